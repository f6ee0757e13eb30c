'use strict';

/** Two small services with the same kind of answer, so their encoded bodies can be compared. */
class Catalog {
  item(id) {
    return { id, name: 'teapot', price: 12.5, tags: ['kitchen', 'tea'] };
  }
}

class Audit {
  item(id) {
    return { id, name: 'teapot', price: 12.5, tags: ['kitchen', 'tea'] };
  }
}

module.exports = { Catalog, Audit };
