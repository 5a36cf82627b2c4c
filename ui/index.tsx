// Entry point of the plugin's UI iframe for create-figma-plugin: main passes the saved settings.
import { render } from '@create-figma-plugin/ui';
import { App } from './app.tsx';

export default render(App);
