import { readFileSync } from 'node:fs';
import { PatchbayError } from '../errors.js';

/** A secret reference that cannot be resolved. The message names the reference, never a value. */
export class SecretUnavailableError extends PatchbayError {
  readonly code = 'secret-unavailable';
  constructor(readonly ref: string, reason: string, options?: { cause?: unknown }) {
    super(`secret ${ref}: ${reason}`, options);
  }
}

export const SecretResolver = Symbol('SecretResolver');
export interface SecretResolver {
  /** Resolves env:NAME or file:PATH to the secret's value. */
  resolve(ref: string): string;
}

/** Reads secrets from the environment or from files, at the moment they are needed and never earlier. */
export class EnvironmentSecretResolver implements SecretResolver {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  resolve(ref: string): string {
    if (ref.startsWith('env:')) {
      const value = this.env[ref.slice(4)];
      if (!value) throw new SecretUnavailableError(ref, 'the environment variable is not set');
      return value;
    }
    if (ref.startsWith('file:')) {
      try {
        return readFileSync(ref.slice(5), 'utf8').trim();
      } catch (cause) {
        throw new SecretUnavailableError(ref, `the file cannot be read (${(cause as NodeJS.ErrnoException).code})`, { cause });
      }
    }
    throw new SecretUnavailableError(ref, 'must start with env: or file:');
  }
}
