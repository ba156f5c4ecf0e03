'use strict';
module.exports = require('./build/Release/distill_blas.node');
