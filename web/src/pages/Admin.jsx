// Admin: organisations, users, tokens, share grants, audit log search.
import { useState } from "react";
import { api } from "../api.js";
import { useAuth } from "../auth.jsx";
import { useI18n } from "../i18n.jsx";
import { Empty, ErrorBox, Loading, useApi } from "../components/ui.jsx";

function Section({ title, state, children }) {
  return (
    <article className="card">
      <h2>{title}</h2>
      {state.error ? <ErrorBox error={state.error} onRetry={state.reload} /> : state.data ? children(state.data) : <Loading />}
    </article>
  );
}

function Tokens() {
  const { t, when } = useI18n();
  const tokens = useApi("/api/tokens?limit=200");
  const [created, setCreated] = useState(null);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const act = async (fn) => {
    setError(null);
    try {
      await fn();
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Section title={t("admin.tokens")} state={tokens}>
      {(data) => (
        <>
          <form className="inline" onSubmit={(e) => {
            e.preventDefault();
            act(async () => setCreated(await api("/api/tokens", { method: "POST", body: { name } })));
          }}>
            <input placeholder="line-1 camera" value={name} onChange={(e) => setName(e.target.value)} required />
            <button type="submit">{t("admin.new_token")}</button>
          </form>
          {created && <p className="ok" data-testid="token-created">{t("admin.token_created", { token: created.token })}</p>}
          <ErrorBox error={error} />
          <table className="table">
            <tbody>
              {data.items.map((tk) => (
                <tr key={tk.id}>
                  <td>{tk.name}</td>
                  <td className="mono">{tk.prefix}…</td>
                  <td className="small">{tk.revoked_at ? `revoked ${when(tk.revoked_at)}` : tk.expires_at ? `expires ${when(tk.expires_at)}` : ""}</td>
                  <td>{!tk.revoked_at && <button className="link" onClick={() => act(() => api(`/api/tokens/${tk.id}`, { method: "DELETE" }))}>{t("admin.revoke")}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

function Grants({ orgName, ownOrg }) {
  const { t, when } = useI18n();
  const grants = useApi("/api/grants?limit=200");
  const [error, setError] = useState(null);
  const revoke = async (id) => {
    setError(null);
    try {
      await api(`/api/grants/${id}`, { method: "DELETE" });
      grants.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Section title={t("admin.grants")} state={grants}>
      {(data) =>
        data.items.length === 0 ? (
          <Empty>{t("admin.no_grants")}</Empty>
        ) : (
          <>
            <ErrorBox error={error} />
            <table className="table" data-testid="grants">
              <tbody>
                {data.items.map((g) => (
                  <tr key={g.id}>
                    <td>{orgName(g.grantor_org_id)} → {orgName(g.grantee_org_id)}</td>
                    <td>{g.scope}</td>
                    <td className="small">{g.part_number || g.part_id || "all parts"}</td>
                    <td className="small">{g.revoked_at ? `revoked ${when(g.revoked_at)}` : when(g.created_at)}</td>
                    <td>{!g.revoked_at && g.grantor_org_id === ownOrg && <button className="link" onClick={() => revoke(g.id)}>{t("admin.revoke")}</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )
      }
    </Section>
  );
}

function Audit() {
  const { t, when } = useI18n();
  const [action, setAction] = useState("");
  const [resource, setResource] = useState("");
  const [query, setQuery] = useState("");
  const audit = useApi(`/api/audit-events?limit=100${query}`);
  return (
    <Section title={t("admin.audit")} state={audit}>
      {(data) => (
        <>
          <form className="inline" onSubmit={(e) => {
            e.preventDefault();
            const q = new URLSearchParams();
            if (action) q.set("action", action);
            if (resource) q.set("resource", resource);
            setQuery(q.toString() ? `&${q}` : "");
          }}>
            <input placeholder="action (read_shared, refuse, …)" value={action} onChange={(e) => setAction(e.target.value)} data-testid="audit-action" />
            <input placeholder="resource (inspection, grant, …)" value={resource} onChange={(e) => setResource(e.target.value)} />
            <button type="submit">{t("admin.search")}</button>
          </form>
          <table className="table small" data-testid="audit">
            <tbody>
              {data.items.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.at)}</td>
                  <td>{e.action}</td>
                  <td>{e.resource}</td>
                  <td className="mono">{e.resource_id?.slice(0, 8)}</td>
                  <td className="mono small">{JSON.stringify(e.detail).slice(0, 120)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}

export default function Admin() {
  const { t, when } = useI18n();
  const { can, me } = useAuth();
  const orgs = useApi(can("admin") ? "/api/orgs?limit=200" : null);
  const users = useApi(can("admin") ? "/api/users?limit=200" : null);
  if (!can("admin")) return <Empty>{t("admin.only_admin")}</Empty>;
  const orgList = (data) => (Array.isArray(data) ? data : data?.items || []);
  const names = new Map(orgList(orgs.data).map((o) => [o.id, o.name]));
  const orgName = (id) => names.get(id) || id.slice(0, 8);
  return (
    <section>
      <h1>{t("admin.title")}</h1>
      <div className="two">
        <Section title={t("admin.orgs")} state={orgs}>
          {(data) => (
            <table className="table" data-testid="orgs">
              <tbody>
                {orgList(data).map((o) => (
                  <tr key={o.id}><td>{o.name}</td><td>{o.kind}</td><td className="mono">{o.slug}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title={t("admin.users")} state={users}>
          {(data) => (
            <table className="table" data-testid="users">
              <tbody>
                {data.items.map((u) => (
                  <tr key={u.id}><td>{u.display_name}</td><td>{u.email}</td><td>{u.role}</td><td className="small">{u.disabled ? "disabled" : when(u.created_at)}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      </div>
      <Tokens />
      <Grants orgName={orgName} ownOrg={me.organisation.id} />
      <Audit />
    </section>
  );
}
