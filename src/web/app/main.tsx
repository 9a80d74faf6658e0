/** The family app's entry: registers the service worker and renders the app. */
import { render } from 'preact';
import { App } from './app.js';

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
}

render(<App />, document.getElementById('app')!);
