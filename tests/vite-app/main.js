// A Vite app importing the npm package: init from the query string, then open.
import { init, on, open } from 'natter-widget';

const params = new URLSearchParams(location.search);
on('ready', () => {
  document.body.dataset.natterReady = 'true';
});
await init({ websiteToken: params.get('token'), server: params.get('server'), storage: 'session' });
open();
