/** Unit tests are pure and fast; integration tests talk to the real local stack (see stack/stack.sh). */
const tsJest = ['ts-jest', { diagnostics: false }];

// `jest --selectProjects integration tests/integration/x.test.ts` would read the path as a second
// project name and run every file; narrow each project to the files named on the command line.
const named = process.argv.filter((a) => /\.test\.ts$/.test(a)).map((a) => `<rootDir>/${a.replace(/^\.\//, '')}`);
const only = (glob) => (named.length ? named : [glob]);

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testMatch: only('<rootDir>/tests/unit/**/*.test.ts'),
      transform: { '^.+\\.ts$': tsJest },
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: only('<rootDir>/tests/integration/**/*.test.ts'),
      transform: { '^.+\\.ts$': tsJest },
      testEnvironment: 'node',
      globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/tests/helpers/integration-timeout.ts'],
    },
  ],
};
