// Moved to testkit/ (shared by tests and benchmarks); kept here for the tests that import it from helpers.
export * from '../../testkit/role-process';
