export { dashboardRoutes, DASHBOARD_ASSETS, CONTENT_SECURITY_POLICY } from "./dashboard-routes.ts";
