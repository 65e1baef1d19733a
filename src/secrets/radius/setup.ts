/**
 * Builds the RADIUS authenticator and accounting from the validated `radius` config section:
 * reads the shared-secret files (permission-checked), opens one client for the
 * authentication ports and one for the accounting ports.
 */
import type { Authenticator } from '../../ppp/auth/authenticator.js';
import type { PermissionOptions } from '../permissions.js';
import { RadiusAccounting } from './accounting.js';
import { RadiusAuthenticator } from './authenticator.js';
import { RadiusClient, type RadiusLogger, type RadiusServer } from './client.js';
import { type RadiusConfig, readSharedSecret } from './config.js';

export interface RadiusSetupOptions {
  /** NAS-Identifier when the config has none: the top-level `name`. */
  readonly defaultNasIdentifier: string;
  /** The local secrets authenticator, required when `fallback` is "local". */
  readonly localAuthenticator?: Authenticator;
  readonly logger?: RadiusLogger;
  /** For the secret files' permission check (tests). */
  readonly permissions?: PermissionOptions;
}

export interface RadiusSetup {
  readonly authenticator: RadiusAuthenticator;
  /** Undefined when `accounting` is false. */
  readonly accounting: RadiusAccounting | undefined;
  readonly authClient: RadiusClient;
  readonly accountingClient: RadiusClient | undefined;
  /** Closes both clients' sockets. */
  close(): void;
}

/** Reads the secrets and builds the clients; errors are one line each, secret-free. */
export async function createRadius(
  config: RadiusConfig,
  options: RadiusSetupOptions,
): Promise<{ ok: true; value: RadiusSetup } | { ok: false; error: string[] }> {
  const errors: string[] = [];
  const secrets = new Map<string, Buffer>();
  for (const server of config.servers) {
    if (secrets.has(server.secretFile)) continue;
    const secret = await readSharedSecret(server.secretFile, options.permissions);
    if (secret.ok) secrets.set(server.secretFile, secret.value);
    else errors.push(secret.error);
  }
  if (config.fallback === 'local' && options.localAuthenticator === undefined) {
    errors.push('radius.fallback is "local" but no local secrets store is available');
  }
  if (errors.length > 0) return { ok: false, error: errors };

  const servers = (port: 'authPort' | 'acctPort'): RadiusServer[] =>
    config.servers.map((s) => ({
      host: s.host,
      port: s[port],
      secret: secrets.get(s.secretFile)!,
    }));
  const common = {
    timeoutMs: config.timeout * 1000,
    retries: config.retries,
    deadTimeMs: config.deadTime * 1000,
    requireMessageAuthenticator: config.requireMessageAuthenticator,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  };
  const nasIdentifier = config.nasIdentifier ?? options.defaultNasIdentifier;
  const nas = {
    nasIdentifier,
    ...(config.nasIpAddress !== undefined ? { nasIpAddress: config.nasIpAddress } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  };
  const authClient = new RadiusClient({ servers: servers('authPort'), ...common });
  const authenticator = new RadiusAuthenticator({
    client: authClient,
    ...nas,
    ...(config.fallback === 'local' && options.localAuthenticator !== undefined
      ? { fallback: options.localAuthenticator }
      : {}),
  });
  const accountingClient = config.accounting
    ? new RadiusClient({ servers: servers('acctPort'), ...common })
    : undefined;
  const accounting =
    accountingClient !== undefined
      ? new RadiusAccounting({
          client: accountingClient,
          ...nas,
          interimInterval: config.interimInterval,
        })
      : undefined;
  return {
    ok: true,
    value: {
      authenticator,
      accounting,
      authClient,
      accountingClient,
      close() {
        authClient.close();
        accountingClient?.close();
      },
    },
  };
}
