// Small shared pieces: loading, errors in words, empty states, data loading, images.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, blobUrl } from "../api.js";
import { useI18n } from "../i18n.jsx";

export function Loading() {
  const { t } = useI18n();
  return <p className="muted" role="status">{t("common.loading")}</p>;
}

/** An API error shown in the server's own words; 404 says "not found or not yours". */
export function ErrorBox({ error, onRetry }) {
  const { t } = useI18n();
  if (!error) return null;
  const notFound = error.status === 404 || error.status === 403;
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>{notFound ? t("common.not_found") : t("common.error")}</strong>
      <p>{error.message}</p>
      {error.errors?.length > 0 && (
        <ul>
          {error.errors.slice(0, 10).map((e, i) => (
            <li key={i}>{typeof e === "string" ? e : JSON.stringify(e)}</li>
          ))}
        </ul>
      )}
      {onRetry && !notFound && <button onClick={onRetry}>{t("common.retry")}</button>}
    </div>
  );
}

export function Empty({ children }) {
  return (
    <div className="empty" data-testid="empty">
      {children}
    </div>
  );
}
/** Upload the file chosen in an <input type="file"> to ``path`` (multipart field "file"):
 * its answer, error and busy state; ``onDone(answer)`` after a success. */
export function useFileUpload(path, onDone) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const upload = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    setResult(null);
    const form = new FormData();
    form.append("file", file);
    try {
      const out = await api(path, { method: "POST", body: form });
      setResult(out);
      onDone(out);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      e.target.value = "";
    }
  };
  return { result, error, busy, upload };
}


/** Load `path` (re-load when it changes, or every `every` ms); returns {data, error, reload}. */
export function useApi(path, every = 0) {
  const [state, setState] = useState({ data: null, error: null, loading: Boolean(path) });
  const tick = useRef(0);
  const load = useCallback(() => {
    if (!path) return;
    const mine = ++tick.current;
    api(path)
      .then((data) => mine === tick.current && setState({ data, error: null, loading: false }))
      .catch((error) => mine === tick.current && setState((s) => ({ ...s, error, loading: false })));
  }, [path]);
  useEffect(() => {
    setState({ data: null, error: null, loading: Boolean(path) });
    load();
    if (!every) return undefined;
    const timer = setInterval(load, every);
    return () => clearInterval(timer);
  }, [load, every, path]);
  return { ...state, reload: load };
}

/** A stored image (fetched with the token). */
export function BlobImage({ sha, alt, className, ...rest }) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    let live = true;
    setSrc(null);
    blobUrl(sha)
      .then((url) => live && setSrc(url))
      .catch(() => live && setSrc(null));
    return () => {
      live = false;
    };
  }, [sha]);
  if (!sha) return <div className={`img-missing ${className || ""}`}>—</div>;
  return src ? (
    <img src={src} alt={alt} className={className} {...rest} />
  ) : (
    <div className={`img-loading ${className || ""}`} />
  );
}

export function Verdict({ verdict, review }) {
  const { t } = useI18n();
  const shown = review === "accept" ? "ok" : review === "reject" || review === "relabel" ? "ng" : verdict;
  const key = shown ? `verdict.${shown}` : "verdict.none";
  return <span className={`verdict verdict-${shown || "none"}`}>{t(key)}</span>;
}

export function Stat({ label, value, testid }) {
  return (
    <div className="stat" data-testid={testid}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
