/** One jest run for the whole monorepo: unit tests beside each package, cross-package tests in test/. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/kernel', '<rootDir>/plugins', '<rootDir>/cli', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  // The kernel is mapped to its sources so every test and every lazily loaded plugin share one copy.
  moduleNameMapper: {
    '^@plexus/kernel$': '<rootDir>/kernel/src/index.ts',
    '^@plexus/kernel/(spi|testing)$': '<rootDir>/kernel/src/$1/index.ts',
  },
  // Installs ZooKeeper, etcd and Redis when missing; each test starts the servers it needs.
  globalSetup: '<rootDir>/test/global-setup.js',
  testTimeout: 30000,
  maxWorkers: 2,
};
