// The image's HEALTHCHECK: exit 0 when GET /api/v1/health/ready answers 200 (node has fetch; the
// slim image has no curl). The platform listens on HTTP_PORT inside the container.
const port = process.env.HTTP_PORT || '8080';
try {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/health/ready`, { signal: AbortSignal.timeout(4000) });
  if (res.status !== 200) console.error(`not ready: ${res.status} ${await res.text()}`);
  process.exit(res.status === 200 ? 0 : 1);
} catch (err) {
  console.error(`not ready: ${err.message}`);
  process.exit(1);
}
