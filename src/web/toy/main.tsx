/** The virtual toy page at /toy (task E2 builds it out; this placeholder keeps the build whole). */
import { render } from 'preact';
import { Page } from '../ui/kit.js';

render(
  <Page title="Virtual toy">
    <p>The virtual toy is being built.</p>
  </Page>,
  document.getElementById('toy')!,
);
