export {
  MpvIpcClient,
  MpvCommandError,
  DEFAULT_COMMAND_TIMEOUT_MS,
  type MpvIpcClientOptions,
  type CommandOptions,
  type MpvEvent,
  type TimedReading,
} from './ipc-client.js';
export {
  MpvProcess,
  MpvNotFoundError,
  MPV_INSTALL_HINT,
  buildMpvArgs,
  type MpvProcessOptions,
} from './mpv-process.js';
export { SupervisedMpv, type SupervisedMpvOptions } from './supervised-mpv.js';
export { MpvPlayer, MpvPlayerHost } from './mpv-player.js';
export { canOpenAudioOutput } from './audio-output-probe.js';
