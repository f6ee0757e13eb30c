'use strict';
const { Plexus } = require('@plexus/kernel');

/** The demo.Greeter implementation: plain methods, sync or async. */
class Greeter {
  sayHello(name) {
    return `hello ${name}`;
  }

  async whoAmI() {
    const ctx = Plexus.context();
    return { service: ctx.service, method: ctx.method, from: ctx.remoteAddress, pid: process.pid };
  }

  stats(numbers) {
    const sum = numbers.reduce((a, b) => a + b, 0);
    return { count: numbers.length, sum, mean: numbers.length ? sum / numbers.length : 0, at: new Date() };
  }

  fail(why) {
    throw new RangeError(`refused: ${why}`);
  }
}

module.exports = Greeter;
