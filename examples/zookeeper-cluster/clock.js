'use strict';

/** demo.Clock: every answer says which provider gave it (its label from run.js, and its pid). */
class Clock {
  now() {
    return { at: new Date().toISOString(), by: process.env.PROVIDER_LABEL ?? `pid ${process.pid}`, pid: process.pid };
  }
}

module.exports = Clock;
