// node --import test/support/esm-probe.mjs …: reports on stderr every module an ES import resolves to, as
// `load "<url>"` (NODE_DEBUG=module sees CommonJS loads only). The test of what a command loads at start uses it.
import { register } from 'node:module';

register('./esm-probe-hooks.mjs', import.meta.url);
