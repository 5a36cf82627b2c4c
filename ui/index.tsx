import { render } from '@create-figma-plugin/ui';
import { h } from 'preact';

function Plugin() {
  return <div>MGIE</div>;
}

export default render(Plugin);
