// SHA-256 of bytes as lowercase hex (Web Crypto: browsers on http://127.0.0.1 / localhost / https,
// workers and node all have it), to check a bundle's programs against its manifest.

export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new Error('Web Crypto is unavailable (the page must come from https, localhost or 127.0.0.1)');
  }
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = new Uint8Array(await subtle.digest('SHA-256', data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws unless `bytes` are the program the manifest's artifacts entry describes. */
export async function verifyArtifact(role, entry, bytes) {
  if (bytes.byteLength !== entry.bytes) {
    throw new Error(`${entry.file} (${role}) has ${bytes.byteLength} bytes, manifest.json says ${entry.bytes}`);
  }
  const hex = await sha256Hex(bytes);
  if (hex !== entry.sha256) throw new Error(`${entry.file} (${role}) does not match its sha256 in manifest.json`);
}
