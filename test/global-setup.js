/** Jest global setup: the real servers the registry tests start are installed (DESIGN §9). */
const { install } = require('../scripts/servers');

module.exports = async () => {
  install();
};
