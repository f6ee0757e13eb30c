'use strict';

/**
 * The hello.Greeter implementation. Every answer says which process gave it, so the demo can show
 * which of the two providers served each call.
 */
class Greeter {
  sayHello(name) {
    return { text: `hello ${name}`, pid: process.pid };
  }
}

module.exports = Greeter;
