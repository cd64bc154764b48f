/** Paths of the package and the repository, from the compiled test's location. */

import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** `clients/typescript` (tests run from `build/test/…`). */
export const PACKAGE_DIR: string = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));

/** The repository root. */
export const REPO_DIR: string = path.resolve(PACKAGE_DIR, '..', '..');
