// The syncplay web remote. Plain JavaScript, no build step. It draws the `state` events of
// /api/v1/events and sends every action as a JSON-RPC call to /api/v1/rpc: the same requests as
// `syncplay ctl`. Everything that came from the network is written with textContent, never as HTML.
'use strict';

const API = '/api/v1';
const $ = (id) => document.getElementById(id);
const PAGE = 50;
const MAX_ROWS = 500;

let state = null;
let receivedAt = 0;
let rpcId = 0;
let seeking = false;

async function rpc(method, params) {
  const res = await fetch(`${API}/rpc`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params: params || {} }),
  });
  if (res.status === 401) throw new Error('the key is missing or wrong: open the link the leader shows');
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  const body = await res.json();
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

function say(text) {
  const m = $('message');
  m.textContent = text;
  clearTimeout(say.timer);
  if (text) say.timer = setTimeout(() => (m.textContent = ''), 5000);
}

/** Runs a command; the answer arrives as a state event, errors are shown. */
function act(method, params) {
  rpc(method, params).then(() => say(''), (e) => say(e.message));
}

function clock(sec) {
  if (!Number.isFinite(sec) || sec < 0) sec = 0;
  const s = Math.floor(sec);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const num = (v, digits, unit) => (v === null || v === undefined ? '—' : `${v.toFixed(digits)} ${unit}`);

/** Where the playhead is now: the snapshot's position run forward while playing. */
function position() {
  if (!state || !state.track) return 0;
  const p = state.playhead;
  let pos = p.positionSec;
  if (p.state === 'playing') pos += (performance.now() - receivedAt) / 1000;
  return Math.min(pos, state.track.durationSec);
}

function drawProgress() {
  if (!state) return;
  const dur = state.track ? state.track.durationSec : 0;
  const seek = $('seek');
  seek.max = String(Math.max(1, Math.floor(dur)));
  if (!seeking) seek.value = String(Math.floor(position()));
  $('elapsed').textContent = clock(seeking ? Number(seek.value) : position());
  $('duration').textContent = clock(dur);
  seek.setAttribute('aria-valuetext', `${clock(position())} of ${clock(dur)}`);
}

function drawNow() {
  const p = state.playhead;
  const running = p.state === 'playing' || p.state === 'pending';
  $('state').textContent = `${p.state} · track ${p.trackIndex + 1} of ${state.trackCount}`;
  $('title').textContent = state.track ? state.track.title : 'end of the playlist';
  $('artist').textContent = state.track && state.track.artist ? state.track.artist : '';
  const play = $('play');
  play.classList.toggle('running', running);
  play.setAttribute('aria-label', running ? 'Pause' : p.state === 'paused' ? 'Resume' : 'Play');
  play.dataset.action = running ? 'pause' : p.state === 'paused' ? 'resume' : 'play';
  if (document.activeElement !== $('repeat')) $('repeat').value = state.repeat;
  const next = state.schedule.nextStart;
  $('schedule').textContent = next ? `next start ${new Date(next).toLocaleString()}` : '';
  $('track-count').textContent = `(${state.trackCount})`;
  drawProgress();
  markCurrent();
}

const rows = new Map();

function memberRow(name) {
  let row = rows.get(name);
  if (row) return row;
  const li = $('member-row').content.firstElementChild.cloneNode(true);
  const q = (sel) => li.querySelector(sel);
  row = { li, name, volume: q('.volume'), mute: q('.mute'), latency: q('.latency'), busy: false };
  li.dataset.name = name;
  q('.name').textContent = name;
  row.volume.setAttribute('aria-label', `Volume of ${name}`);
  row.mute.setAttribute('aria-label', `Mute ${name}`);
  row.latency.setAttribute('aria-label', `Latency offset of ${name} in milliseconds`);
  row.volume.addEventListener('input', () => (q('.volume-value').textContent = row.volume.value));
  row.volume.addEventListener('change', () => act('volume', { member: name, volume: Number(row.volume.value) }));
  row.mute.addEventListener('click', () => act('mute', { member: name, muted: row.mute.getAttribute('aria-pressed') !== 'true' }));
  row.latency.addEventListener('change', () => {
    const v = row.latency.value.trim();
    if (v === '') act('offset', { member: name, ms: null });
    else if (Number.isFinite(Number(v))) act('offset', { member: name, ms: Number(v) });
  });
  rows.set(name, row);
  return row;
}

function drawMembers() {
  const list = $('members');
  const seen = new Set();
  for (const m of state.members) {
    seen.add(m.name);
    const row = memberRow(m.name);
    const q = (sel) => row.li.querySelector(sel);
    row.li.classList.toggle('lost', !m.connected);
    q('.badge').textContent = m.connected ? m.playerState : 'lost';
    q('.error').textContent = num(m.errorMs, 2, 'ms');
    q('.offset').textContent = num(m.clockOffsetMs, 2, 'ms');
    q('.rtt').textContent = num(m.rttMs, 2, 'ms');
    const problems = m.fileProblems.map((f) => `#${f.index + 1} ${f.status}`).join(', ');
    q('.files').textContent = problems ? `${m.fileStatus} (${problems})` : m.fileStatus;
    if (document.activeElement !== row.volume) {
      row.volume.value = String(m.volume);
      q('.volume-value').textContent = String(m.volume);
    }
    row.mute.setAttribute('aria-pressed', String(m.muted));
    row.mute.textContent = m.muted ? 'Muted' : 'Mute';
    if (document.activeElement !== row.latency) row.latency.value = m.latencyOffsetMs === null ? '' : String(m.latencyOffsetMs);
    if (row.li.parentNode !== list) list.appendChild(row.li);
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.li.remove();
      rows.delete(name);
    }
  }
  const live = state.members.filter((m) => m.connected).length;
  $('member-count').textContent = `(${live} connected${live < state.members.length ? `, ${state.members.length - live} lost` : ''})`;
}

// The playlist: a window of at most MAX_ROWS rows, fetched PAGE at a time (fast on 100k tracks).
let listQuery = '';
let listOffset = 0;
let listLoading = 0;

async function loadTracks(reset) {
  const token = ++listLoading;
  if (reset) {
    listOffset = listQuery || !state ? 0 : Math.max(0, state.playhead.trackIndex - 3);
  }
  const result = await rpc('tracks', { query: listQuery, offset: listOffset, limit: PAGE });
  if (token !== listLoading) return;
  const ol = $('tracks');
  if (reset) ol.textContent = '';
  for (const t of result.items) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'track';
    b.dataset.number = String(t.number);
    const n = document.createElement('span');
    n.className = 'n';
    n.textContent = String(t.number);
    const title = document.createElement('span');
    title.className = 't';
    title.textContent = t.artist ? `${t.title} — ${t.artist}` : t.title;
    const d = document.createElement('span');
    d.className = 'd';
    d.textContent = clock(t.durationSec);
    b.append(n, title, d);
    b.setAttribute('aria-label', `Play track ${t.number}: ${title.textContent}`);
    li.appendChild(b);
    ol.appendChild(li);
  }
  while (ol.children.length > MAX_ROWS) ol.firstElementChild.remove();
  listOffset += result.items.length;
  $('more').hidden = listOffset >= result.matches;
  $('matches').textContent = listQuery ? `${result.matches} matching` : '';
  markCurrent();
}

function markCurrent() {
  if (!state) return;
  const current = String(state.playhead.trackIndex + 1);
  for (const b of $('tracks').querySelectorAll('button.track')) {
    if (b.dataset.number === current) b.setAttribute('aria-current', 'true');
    else b.removeAttribute('aria-current');
  }
}

function connect() {
  const events = new EventSource(`${API}/events`);
  let first = true;
  events.addEventListener('state', (e) => {
    const msg = JSON.parse(e.data);
    const before = state;
    state = msg.state;
    receivedAt = performance.now();
    $('link').textContent = 'live';
    $('link').className = 'link live';
    drawNow();
    drawMembers();
    if (first || (before && before.trackCount !== state.trackCount)) {
      first = false;
      loadTracks(true).catch((err) => say(err.message));
    }
    if (!document.body.dataset.ready) {
      document.body.dataset.ready = 'true';
      performance.mark('syncplay-first-state');
    }
  });
  events.onerror = () => {
    $('link').textContent = 'reconnecting…';
    $('link').className = 'link down';
    // A refused stream (wrong key) does not retry by itself: ask the API why.
    if (events.readyState === EventSource.CLOSED) {
      rpc('state').then(() => setTimeout(connect, 1000), (err) => say(err.message));
    }
  };
}

function wire() {
  $('play').addEventListener('click', (e) => act(e.currentTarget.dataset.action || 'play'));
  $('prev').addEventListener('click', () => act('prev'));
  $('next').addEventListener('click', () => act('next'));
  $('stop').addEventListener('click', () => act('stop'));
  $('repeat').addEventListener('change', (e) => act('repeat', { mode: e.target.value }));
  const seek = $('seek');
  seek.addEventListener('input', () => {
    seeking = true;
    drawProgress();
  });
  seek.addEventListener('change', () => {
    seeking = false;
    act('seek', { seconds: Number(seek.value) });
  });
  $('tracks').addEventListener('click', (e) => {
    const b = e.target.closest('button.track');
    if (b) act('play', { track: Number(b.dataset.number) });
  });
  let timer = 0;
  $('search').addEventListener('input', (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      listQuery = e.target.value.trim();
      loadTracks(true).catch((err) => say(err.message));
    }, 150);
  });
  $('more').addEventListener('click', () => loadTracks(false).catch((err) => say(err.message)));
  setInterval(drawProgress, 250);
}

wire();
connect();
