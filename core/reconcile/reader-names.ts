/*
 * The names of the app-side readers alone (`patchbay reconcile --via`), without the readers: the
 * command line lists them in its help, and `patchbay --help` must not load the readers' channels
 * (the browser, SCIM, the store) to do so. core/reconcile/readers.ts keys its readers by this list.
 */

/** The app-side readers by name, in the order `--via` lists them. */
export const appReaderNames = ['api', 'scim', 'browser', 'attestations'] as const;

/** The readers a machine runs unattended, in the order they are preferred: an API, SCIM, the console in Chromium. */
export const machineReaders: readonly AppReaderName[] = ['api', 'scim', 'browser'];

/** One app-side reader's name. */
export type AppReaderName = (typeof appReaderNames)[number];
