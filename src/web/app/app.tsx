import { Page } from '../ui/kit.js';

export function App() {
  return (
    <Page title="Burrow">
      <p>Loading the app…</p>
    </Page>
  );
}
