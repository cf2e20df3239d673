// Flagged parts one at a time: accept, reject or relabel, by button or keyboard.
import { useCallback, useEffect, useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { BlobImage, Empty, ErrorBox, Loading, Verdict, useApi } from "../components/ui.jsx";

// The defect regions of the heat-map, largest first (the picture outlines each of them).
function Regions({ regions }) {
  const { t, number, percent } = useI18n();
  if (!regions.length) return <p className="muted small">{t("review.no_regions")}</p>;
  return (
    <div data-testid="regions">
      <p>{t("review.regions", { n: regions.length })}</p>
      <ol className="small">
        {regions.slice(0, 5).map((r, k) => (
          <li key={k}>
            {t("review.region", {
              w: r.box[2] - r.box[0],
              h: r.box[3] - r.box[1],
              x: r.box[0],
              y: r.box[1],
              share: percent(r.share, 1),
              peak: number(r.peak, 2),
            })}
          </li>
        ))}
      </ol>
    </div>
  );
}

export default function Review() {
  const { t, number, when } = useI18n();
  const { can } = useAuth();
  const { data, error, reload } = useApi("/api/review-queue?limit=50");
  const [index, setIndex] = useState(0);
  const [done, setDone] = useState(new Set());
  const [saved, setSaved] = useState(null);
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);

  const items = (data?.items || []).filter((i) => !done.has(i.id));
  const item = items.length ? items[index % items.length] : null;
  const types = data?.defect_types || [];

  const decide = useCallback(
    async (decision, defectType) => {
      if (!item || busy || !can("operator")) return;
      setBusy(true);
      setFailure(null);
      try {
        await api(`/api/inspections/${item.id}/review`, {
          method: "POST",
          body: { decision, defect_type: defectType || null },
        });
        setDone((d) => new Set(d).add(item.id));
        setSaved(`${item.serial || item.id.slice(0, 8)} → ${decision}${defectType ? ` (${defectType})` : ""}`);
        if (items.length <= 1) reload();
      } catch (err) {
        setFailure(err);
      } finally {
        setBusy(false);
      }
    },
    [item, busy, can, items.length, reload],
  );

  useEffect(() => {
    const onKey = (e) => {
      if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT" || e.metaKey || e.ctrlKey) return;
      const key = e.key.toLowerCase();
      if (key === "a") decide("accept");
      else if (key === "r") decide("reject", item?.defect_type || null);
      else if (key === "s") setIndex((i) => i + 1);
      else if (/^[1-9]$/.test(key) && types[Number(key) - 1]) decide("relabel", types[Number(key) - 1]);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [decide, item, types]);

  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!data) return <Loading />;
  const waiting = Math.max(data.waiting - done.size, 0);
  return (
    <section>
      <h1>{t("review.title")}</h1>
      <p data-testid="waiting">{t("review.waiting", { n: waiting })}</p>
      {saved && <p className="ok" role="status" data-testid="saved">{t("review.saved", { decision: saved })}</p>}
      <ErrorBox error={failure} />
      {!item ? (
        <Empty>{t("review.empty")}</Empty>
      ) : (
        <div className="review" data-testid="review-item" data-id={item.id}>
          <div className="review-images">
            <figure>
              <BlobImage sha={item.image_sha256} alt={t("line.image")} className="big" />
              <figcaption>{t("line.image")}</figcaption>
            </figure>
            <figure>
              <BlobImage sha={item.heatmap_sha256} alt={t("line.heatmap")} className="big" />
              <figcaption>{t("line.heatmap")}</figcaption>
            </figure>
          </div>
          <aside>
            <h2>{item.serial || item.id.slice(0, 8)}</h2>
            <p>
              <Verdict verdict={item.verdict} /> · {when(item.taken_at)}
            </p>
            <p>
              {t("review.model_type")}: <strong>{item.defect_type || "—"}</strong>
            </p>
            <Regions regions={item.regions || []} />
            <p className="small">
              score {number(item.score, 3)}
              {data.thresholds?.[item.model_version_id] != null &&
                ` / threshold ${number(data.thresholds[item.model_version_id], 3)}`}
            </p>
            <div className="actions">
              <button onClick={() => decide("accept")} disabled={busy} data-testid="accept">
                {t("review.accept")} <kbd>A</kbd>
              </button>
              <button onClick={() => decide("reject", item.defect_type)} disabled={busy} className="danger" data-testid="reject">
                {t("review.reject")} <kbd>R</kbd>
              </button>
              <button onClick={() => setIndex((i) => i + 1)} className="link">
                {t("review.skip")} <kbd>S</kbd>
              </button>
            </div>
            <p>{t("review.relabel")}</p>
            <div className="actions">
              {types.map((code, k) => (
                <button key={code} onClick={() => decide("relabel", code)} disabled={busy} data-testid={`relabel-${code}`}>
                  {k < 9 && <kbd>{k + 1}</kbd>} {code}
                </button>
              ))}
            </div>
            <p className="muted small">{t("review.keys")}</p>
          </aside>
        </div>
      )}
    </section>
  );
}
