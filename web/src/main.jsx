import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth.jsx";
import { I18nProvider } from "./i18n.jsx";
import Layout from "./components/Layout.jsx";
import { Loading } from "./components/ui.jsx";
import Login from "./pages/Login.jsx";
import Overview from "./pages/Overview.jsx";
import Line from "./pages/Line.jsx";
import Review from "./pages/Review.jsx";
import Teach from "./pages/Teach.jsx";
import Models from "./pages/Models.jsx";
import Scorecard from "./pages/Scorecard.jsx";
import Admin from "./pages/Admin.jsx";
import Setup from "./pages/Setup.jsx";
import Alerts from "./pages/Alerts.jsx";
import Connectors from "./pages/Connectors.jsx";
import Machines from "./pages/Machines.jsx";
import Process from "./pages/Process.jsx";
import Traceability from "./pages/Traceability.jsx";
import RootCause from "./pages/RootCause.jsx";
import SharedAnswers from "./pages/SharedAnswers.jsx";
import NotFound from "./pages/NotFound.jsx";
import "./styles.css";

function Guarded() {
  const { me, checking } = useAuth();
  const location = useLocation();
  if (checking) return <Loading />;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <Layout />;
}

function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route element={<Guarded />}>
        <Route index element={<Overview />} />
        <Route path="lines/:lineId" element={<Line />} />
        <Route path="review" element={<Review />} />
        <Route path="teach" element={<Teach />} />
        <Route path="teach/:partId" element={<Teach />} />
        <Route path="models" element={<Models />} />
        <Route path="models/:versionId" element={<Models />} />
        <Route path="scorecard" element={<Scorecard />} />
        <Route path="process" element={<Process />} />
        <Route path="traceability" element={<Traceability />} />
        <Route path="root-cause" element={<RootCause />} />
        <Route path="root-cause/shared" element={<SharedAnswers />} />
        <Route path="admin" element={<Admin />} />
        <Route path="setup" element={<Setup />} />
        <Route path="alerts" element={<Alerts />} />
        <Route path="connectors" element={<Connectors />} />
        <Route path="machines" element={<Machines />} />
        <Route path="machines/:assetId" element={<Machines />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <I18nProvider>
      <AuthProvider>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </AuthProvider>
    </I18nProvider>
  </StrictMode>,
);
