import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing: HMAC-SHA256 over `${id}.${timestamp}.${body}`, sent as
 * `webhook-signature: v1,<base64>`. A `whsec_…` secret is base64 after its prefix (the standard's
 * form); any other secret is used as its UTF-8 bytes.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Hosts (host or host:port) webhooks may reach; nothing else, so a job cannot make us call internal services. */
export function webhookHostAllowed(url: string, allowedHosts: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  if (parsed.username || parsed.password) return false;
  const allowed = allowedHosts
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  return allowed.includes(parsed.host.toLowerCase()) || allowed.includes(parsed.hostname.toLowerCase());
}
