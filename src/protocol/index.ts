export * from './messages.js';
export * from './line-framer.js';
export * from './connection.js';
export * from './auth.js';
export * from './timeline.js';
export * from './timeline-history.js';
export * from './line-auth.js';
export * from './playlist-pages.js';
