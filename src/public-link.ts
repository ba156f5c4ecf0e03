/**
 * A link the API hands out (artifact and model `url`s, Location headers): absolute on PUBLIC_URL when
 * set (the API behind a proxy, on another host or under a path), else the path, which a client resolves
 * against the URL it called.
 */
export function publicLink(publicUrl: string, path: string): string {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}${path}` : path;
}
