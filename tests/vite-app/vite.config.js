// Builds the test app; top-level await needs a modern target.
export default { build: { target: 'esnext' }, logLevel: 'warn' };
