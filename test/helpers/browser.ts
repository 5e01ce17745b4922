/**
 * Headless Chromium for the tests that load a page: the Debian package's browser (or WEIR_TEST_CHROMIUM),
 * driven by playwright-core. Tests skip, with how to install it, when it is missing, and fail instead
 * under WEIR_REQUIRE_SERVICES=1.
 */
import { accessSync, constants } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { skipUnless } from './services.ts';

export const CHROMIUM = process.env.WEIR_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** The `skip` option of a suite that needs the browser. */
export function skipWithoutChromium(): Promise<string | false> {
  return skipUnless(`Chromium at ${CHROMIUM}`, async () => accessSync(CHROMIUM, constants.X_OK), {
    missing: 'is not installed',
    remedy: 'apt-get install chromium (or set WEIR_TEST_CHROMIUM to its path) to run these tests',
  });
}

/** A headless browser; close it in `after`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox'],
    timeout: 30_000,
  });
}
