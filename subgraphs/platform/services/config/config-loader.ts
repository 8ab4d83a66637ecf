import { globMatcher, registerCacheLoader } from '../cache/loaders.js';
import { loadConfigIntoCache } from './runtime-config.js';

const CONFIG_KEY = 'config:document';

// `config:*` (or `system_settings`, the documented name for it) warms the runtime configuration.
registerCacheLoader({
  family: 'config',
  owns: (target) => target === 'system_settings' || globMatcher(target).test(CONFIG_KEY),
  expand: async () => [CONFIG_KEY],
  load: async (deps) => {
    await loadConfigIntoCache(deps);
  },
});
