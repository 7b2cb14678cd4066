// Builds the test app with relative asset paths; top-level await needs a modern target.
export default { base: './', build: { target: 'esnext' }, logLevel: 'warn' };
