/**
 * The Node-RED settings the platform runs flows/flows.json with (notify/flows-process.ts starts it
 * as a child process); a stock Node-RED 4 takes it too: `node-red --settings flows/settings.js`.
 * Everything comes from the environment (README "Notifications"); nothing secret is in this file
 * or in flows.json.
 */
const crypto = require('node:crypto');
const path = require('node:path');

const env = process.env;
// What Node-RED writes in its user folder (credentials, context, sessions) is the service user's alone.
process.umask(0o077);
const editor = env.NODE_RED_EDITOR === 'true';
// The platform's admin token, as the SHA-256 digest it keeps (hex): the editor's password.
const adminDigest = env.PLATFORM_ADMIN_TOKEN_SHA256 ? Buffer.from(env.PLATFORM_ADMIN_TOKEN_SHA256, 'hex') : null;
const isAdminToken = (password) => {
    if (!adminDigest || typeof password !== 'string') return false;
    const digest = crypto.createHash('sha256').update(password).digest();
    return digest.length === adminDigest.length && crypto.timingSafeEqual(digest, adminDigest);
};
const ADMIN = { username: 'admin', permissions: '*' };

// Run by the platform: the flows end with it, even when it was killed outright (kill -9 leaves no
// time to stop a child; the orphan sees its parent change).
if (env.PLATFORM_PARENT_PID) {
    const parent = Number(env.PLATFORM_PARENT_PID);
    setInterval(() => {
        if (process.ppid !== parent) process.exit(0);
    }, 1000).unref();
}

module.exports = {
    uiHost: env.NODE_RED_HOST || '127.0.0.1',
    // Run by the platform, the editor listens on a socket file in its private folder: no other
    // local process can take its place and be handed an admin sign-in.
    uiPort: env.NODE_RED_SOCKET || Number(env.NODE_RED_PORT || 1880),
    userDir: env.NODE_RED_USER_DIR || path.join(__dirname, '..', 'data', 'node-red'),
    flowFile: env.FLOWS_FILE || path.join(__dirname, 'flows.json'),
    flowFilePretty: true,
    // Left unset, Node-RED keeps a generated key in userDir and encrypts flows_cred.json with it.
    credentialSecret: env.NODE_RED_CREDENTIAL_SECRET || undefined,
    // The editor only when asked for, at /flows (the platform passes that path through), behind the
    // admin token: user `admin`, the token as password.
    httpAdminRoot: editor ? '/flows' : false,
    httpNodeRoot: false,
    httpStatic: false,
    adminAuth: editor
        ? {
              type: 'credentials',
              users: (username) => Promise.resolve(username === 'admin' ? ADMIN : null),
              authenticate: (username, password) => Promise.resolve(username === 'admin' && isAdminToken(password) ? ADMIN : null),
              default: undefined,
              // As the console's sessions: an editor sign-in lasts 12 h, not Node-RED's 7 days.
              sessionExpiryTime: 12 * 3600,
          }
        : undefined,
    // A webhook that does not answer is a failed attempt, retried, not a message held for minutes.
    httpRequestTimeout: Number(env.NOTIFY_HTTP_TIMEOUT_MS || 10000),
    functionExternalModules: true,
    // What the flows hold between messages (digest windows, the robots' queues, urgent tallies) is
    // on disk in userDir/context within 2 s, so a restart does not drop it.
    contextStorage: { default: { module: 'localfilesystem', config: { flushInterval: 2 } } },
    functionTimeout: 5,
    externalModules: { autoInstall: false, palette: { allowInstall: false, allowUpdate: false, allowUpload: false }, modules: { allowInstall: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    exportGlobalContextKeys: false,
    editorTheme: { tours: false },
    logging: { console: { level: env.NODE_RED_LOG_LEVEL || 'info', metrics: false, audit: false } },
};
