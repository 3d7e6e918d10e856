/**
 * Loads the terminal UI: the one-file bundle of the UI with Ink and React that `npm run build`
 * makes (scripts/bundle-ui.mjs; one module to load instead of a few hundred, ~0.8 s of CPU less
 * before the first frame), or the compiled modules when there is no bundle (run from sources).
 */
type UiModule = typeof import('./run-leader-ui.js');

const BUNDLE = new URL('./leader-ui.bundle.js', import.meta.url);

export async function loadLeaderUi(): Promise<UiModule> {
  try {
    return (await import(BUNDLE.href)) as UiModule;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes('leader-ui.bundle.js');
    if (!missing) throw e;
    return import('./run-leader-ui.js');
  }
}
