// Live updates pushed by the server (server-sent events on /api/events), one stream per tab
// shared by every page that listens. EventSource cannot send the bearer token, so the
// stream is read with fetch; it reconnects with the last event's id and misses nothing.
import { useEffect, useRef } from "react";
import { getToken } from "./api.js";

const listeners = new Set();
let running = null;
let lastId = null;

function parse(block) {
  const event = { type: "message", data: "", id: null };
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event.type = line.slice(6).trim();
    else if (line.startsWith("data:")) event.data += line.slice(5).trim();
    else if (line.startsWith("id:")) event.id = line.slice(3).trim();
  }
  return event;
}

async function readStream(signal) {
  const headers = { Authorization: `Bearer ${getToken()}`, Accept: "text/event-stream" };
  if (lastId) headers["Last-Event-ID"] = lastId;
  const response = await fetch("/api/events", { headers, signal });
  if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parse(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event.id) lastId = event.id;
      if (!event.data || event.type === "ready") continue;
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch {
        continue;
      }
      for (const listener of listeners) listener(event.type, data);
    }
  }
}

function start() {
  if (running) return;
  const controller = new AbortController();
  running = controller;
  (async () => {
    let wait = 1000;
    while (!controller.signal.aborted && listeners.size) {
      try {
        await readStream(controller.signal);
        wait = 1000; // the server ends each stream after a while: reconnect at once
      } catch (err) {
        if (controller.signal.aborted) break;
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 30000);
      }
    }
    if (running === controller) running = null;
  })();
}

function stop() {
  if (running && !listeners.size) {
    running.abort();
    running = null;
  }
}

/** Call `onEvent(data, type)` for pushed events of one of `kinds` ("alert", "inspection"),
 * at most once per `settleMs` (a burst, e.g. a batch inspected, calls it once with the last). */
export function useLiveEvents(kinds, onEvent, settleMs = 400) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = kinds.join(",");
  useEffect(() => {
    if (!getToken()) return undefined;
    const wanted = new Set(key.split(","));
    let timer = null;
    const listener = (type, data) => {
      if (!wanted.has(type)) return;
      clearTimeout(timer);
      timer = setTimeout(() => handler.current(data, type), settleMs);
    };
    listeners.add(listener);
    start();
    return () => {
      clearTimeout(timer);
      listeners.delete(listener);
      stop();
    };
  }, [key, settleMs]);
}
