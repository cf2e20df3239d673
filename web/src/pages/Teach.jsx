// Teach a part: upload or pick good images, train with progress, choose the threshold
// on held-out images (false alarms against misses), save it, try an image.
import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../api.js";
import { useI18n } from "../i18n.jsx";
import { BlobImage, Empty, ErrorBox, Loading, Verdict, useApi } from "../components/ui.jsx";

function Images({ partId, onChange }) {
  const { t } = useI18n();
  const images = useApi(`/api/parts/${partId}/images?limit=500`);
  const recent = useApi(`/api/inspections?part_id=${partId}&verdict=ok&limit=24`);
  const taxonomy = useApi("/api/defect-types?limit=200");
  const [label, setLabel] = useState("good");
  const [picked, setPicked] = useState(new Set());
  const [note, setNote] = useState(null);
  const [error, setError] = useState(null);
  const items = images.data?.items || [];
  const good = items.filter((i) => i.label === "good").length;
  useEffect(() => onChange(good), [good, onChange]);

  const upload = async (files) => {
    setError(null);
    const form = new FormData();
    for (const f of files) form.append("images", f, f.name);
    form.append("label", label);
    try {
      const result = await api(`/api/parts/${partId}/images`, { method: "POST", body: form });
      setNote(t("teach.uploaded", { n: result.images_new ?? files.length }));
      images.reload();
    } catch (err) {
      setError(err);
    }
  };
  const addPicked = async () => {
    setError(null);
    try {
      const added = await api(`/api/parts/${partId}/images/from-inspections`, {
        method: "POST",
        body: { inspection_ids: [...picked], label: "good" },
      });
      setNote(t("teach.uploaded", { n: added.length }));
      setPicked(new Set());
      images.reload();
    } catch (err) {
      setError(err);
    }
  };
  if (images.error) return <ErrorBox error={images.error} onRetry={images.reload} />;
  if (!images.data) return <Loading />;
  return (
    <article className="card">
      <p data-testid="image-counts">
        {t("teach.images", { good, defects: items.length - good })}
        {images.data.next_offset != null && " +"}
      </p>
      <div className="upload">
        <label>
          {t("teach.upload_as")}{" "}
          <select value={label} onChange={(e) => setLabel(e.target.value)} data-testid="upload-label">
            <option value="good">{t("teach.label_good")}</option>
            {(taxonomy.data?.items || []).map((d) => (
              <option key={d.code} value={d.code}>{d.name || d.code}</option>
            ))}
          </select>
        </label>
        <input type="file" multiple accept="image/png,image/jpeg,image/bmp,image/tiff" data-testid="upload-good"
          onChange={(e) => {
            if (e.target.files.length) upload([...e.target.files]);
            e.target.value = "";
          }} />
      </div>
      <p className="muted small">{t("teach.upload_hint")}</p>
      {note && <p className="ok" role="status">{note}</p>}
      <ErrorBox error={error} />
      <h3>{t("teach.pick")}</h3>
      {recent.data?.items?.length ? (
        <>
          <ul className="picks">
            {recent.data.items.map((r) => (
              <li key={r.id}>
                <label>
                  <input type="checkbox" checked={picked.has(r.id)} onChange={() => {
                    const next = new Set(picked);
                    next.has(r.id) ? next.delete(r.id) : next.add(r.id);
                    setPicked(next);
                  }} />
                  <BlobImage sha={r.image_sha256} alt={r.serial || r.id} />
                </label>
              </li>
            ))}
          </ul>
          <button disabled={!picked.size} onClick={addPicked}>{t("teach.pick_add", { n: picked.size })}</button>
        </>
      ) : (
        <p className="muted small">{t("teach.no_picks")}</p>
      )}
    </article>
  );
}

function Training({ partId, good, onReady }) {
  const { t, percent } = useI18n();
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!job || job.status === "succeeded" || job.status === "failed") return undefined;
    const timer = setInterval(async () => {
      try {
        const now = await api(`/api/jobs/${job.id}`);
        setJob(now);
        if (now.status === "succeeded") onReady(now.subject_id);
        if (now.status === "failed") setError(new Error(now.error || "training failed"));
      } catch (err) {
        setError(err);
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [job, onReady]);
  const start = async () => {
    setError(null);
    try {
      const model = await api("/api/inspection-models", { method: "POST", body: { part_id: partId } });
      setJob(await api(`/api/inspection-models/${model.id}/train`, { method: "POST" }));
    } catch (err) {
      setError(err);
    }
  };
  const running = job && !["succeeded", "failed"].includes(job.status);
  return (
    <article className="card">
      <button onClick={start} disabled={running || good < 5} data-testid="train">{t("teach.train")}</button>
      {good < 5 && <p className="muted small">{t("teach.need_good")}</p>}
      {job && (
        <div className="progress-box">
          <progress max="1" value={job.progress ?? 0} data-testid="progress" />
          <span className="small">
            {t("teach.training")} {percent(job.progress ?? 0, 0)} · {job.message || job.status}
          </span>
        </div>
      )}
      <ErrorBox error={error} />
    </article>
  );
}

function ThresholdChooser({ modelId }) {
  const { t, number, percent } = useI18n();
  const { data, error, reload } = useApi(`/api/inspection-models/${modelId}/threshold`);
  const model = useApi(`/api/inspection-models/${modelId}`);
  const [k, setK] = useState(null);
  const [saved, setSaved] = useState(null);
  const [failure, setFailure] = useState(null);
  const curve = data?.curve || [];
  const start = useMemo(() => {
    if (!data?.current || !curve.length) return 0;
    let best = 0;
    curve.forEach((p, i) => {
      if (Math.abs(p.threshold - data.current.threshold) < Math.abs(curve[best].threshold - data.current.threshold)) best = i;
    });
    return best;
  }, [data, curve]);
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data || !model.data) return <Loading />;
  const index = k ?? start;
  const point = curve[index] || data.current;
  const card = model.data.card || {};
  const save = async () => {
    setFailure(null);
    try {
      await api(`/api/inspection-models/${modelId}/threshold`, { method: "POST", body: { value: point.threshold } });
      setSaved(point.threshold);
      model.reload();
    } catch (err) {
      setFailure(err);
    }
  };
  return (
    <article className="card" data-testid="metrics">
      <h2>{t("teach.metrics")}</h2>
      <dl className="facts">
        <dt>{t("teach.auroc")}</dt>
        <dd>{card.held_out_image_auroc != null ? number(card.held_out_image_auroc, 3) : "—"}</dd>
        <dt>{t("teach.train_seconds")}</dt>
        <dd>{card.train_seconds != null ? `${number(card.train_seconds, 1)} s` : "—"}</dd>
        <dt>{t("teach.calibrated")}</dt>
        <dd>{number(data.calibrated?.value, 4)} ({data.calibrated?.method})</dd>
      </dl>
      {curve.length > 0 && point && (
        <>
          <label className="slider">
            {t("teach.threshold")}: <strong data-testid="threshold-value">{number(point.threshold, 4)}</strong>
            <input type="range" min="0" max={curve.length - 1} value={index} data-testid="threshold-slider"
              onChange={(e) => setK(Number(e.target.value))} />
          </label>
          <div className="stats">
            <div className="stat"><div className="stat-value" data-testid="far">{percent(point.false_alarm_rate)}</div><div className="stat-label">{t("teach.far")}</div></div>
            <div className="stat"><div className="stat-value" data-testid="miss">{percent(point.miss_rate)}</div><div className="stat-label">{t("teach.miss")}</div></div>
          </div>
          <p className="muted small">{t("teach.held_out", { good: point.held_out_good, defects: point.held_out_defects })}</p>
          {(point.held_out_good < 10 || point.held_out_defects === 0) && (
            <p className="small" data-testid="few-held-out">{t("teach.few_held_out")}</p>
          )}
          <button onClick={save} data-testid="save-threshold">{t("teach.save_threshold")}</button>
          {saved != null && <p className="ok" role="status">{t("teach.threshold_saved")}</p>}
          <ErrorBox error={failure} />
        </>
      )}
    </article>
  );
}

function TryIt({ modelId }) {
  const { t, number } = useI18n();
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const inspect = async (file) => {
    setError(null);
    setResult(null);
    const form = new FormData();
    form.append("image", file, file.name);
    try {
      setResult(await api(`/api/inspection-models/${modelId}/inspect`, { method: "POST", body: form }));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <article className="card">
      <label className="upload">
        {t("teach.try")}
        <input type="file" accept="image/png,image/jpeg,image/bmp,image/tiff" data-testid="inspect-file"
          onChange={(e) => e.target.files.length && inspect(e.target.files[0])} />
      </label>
      <ErrorBox error={error} />
      {result && (
        <div className="result" data-testid="inspect-result">
          <p>
            <Verdict verdict={result.verdict} />{" "}
            {t("teach.result", { verdict: result.verdict.toUpperCase(), score: number(result.score, 4), threshold: number(result.threshold, 4) })}
            {result.defect_type && ` · ${result.defect_type}`}
          </p>
          <div className="review-images">
            <BlobImage sha={result.record.image_sha256} alt={t("line.image")} className="big" />
            <BlobImage sha={result.record.heatmap_sha256} alt={t("line.heatmap")} className="big" />
          </div>
        </div>
      )}
    </article>
  );
}

export default function Teach() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const { partId } = useParams();
  const parts = useApi("/api/parts?limit=200");
  const [good, setGood] = useState(0);
  const [modelId, setModelId] = useState(null);
  useEffect(() => setModelId(null), [partId]);
  if (parts.error) return <ErrorBox error={parts.error} onRetry={parts.reload} />;
  if (!parts.data) return <Loading />;
  const mine = parts.data.items;
  return (
    <section>
      <h1>{t("teach.title")}</h1>
      {mine.length === 0 ? (
        <Empty>
          {t("teach.no_parts")} <Link to="/setup" data-testid="to-setup">{t("nav.setup")}</Link>
        </Empty>
      ) : (
        <label>
          {t("teach.part")}{" "}
          <select value={partId || ""} data-testid="part-select" onChange={(e) => navigate(`/teach/${e.target.value}`)}>
            <option value="" disabled>{t("teach.pick_part")}</option>
            {mine.map((p) => (
              <option key={p.id} value={p.id}>{p.number} — {p.name}</option>
            ))}
          </select>
        </label>
      )}
      {partId && (
        <>
          <Images partId={partId} onChange={setGood} />
          <Training partId={partId} good={good} onReady={setModelId} />
          {modelId && <ThresholdChooser modelId={modelId} />}
          {modelId && <TryIt modelId={modelId} />}
        </>
      )}
    </section>
  );
}
