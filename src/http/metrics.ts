import type { ComponentRegistry } from "../gateway/components.ts";

/** Counters the HTTP layer keeps for `/metrics`. Labels are bounded: route patterns, not URLs. */
export class HttpMetrics {
  readonly requests = new Map<string, number>();
  authFailures = 0;

  countRequest(method: string, route: string, status: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Prometheus text exposition format 0.0.4. */
export function renderMetrics(input: {
  version: string;
  startedAt: Date;
  metrics: HttpMetrics;
  components: ComponentRegistry;
}): string {
  const memory = process.memoryUsage();
  const lines: string[] = [
    "# HELP faraday_info Faraday gateway build information.",
    "# TYPE faraday_info gauge",
    `faraday_info{version="${escapeLabel(input.version)}",node="${process.version}"} 1`,
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${memory.rss}`,
    "# HELP nodejs_heap_used_bytes V8 heap used in bytes.",
    "# TYPE nodejs_heap_used_bytes gauge",
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
    "# HELP process_start_time_seconds Start time of the process since the epoch in seconds.",
    "# TYPE process_start_time_seconds gauge",
    `process_start_time_seconds ${Math.floor(input.startedAt.getTime() / 1000)}`,
    "# HELP faraday_component_ready Whether a component counts as ready (1) or not (0).",
    "# TYPE faraday_component_ready gauge",
    ...input.components.list().map(
      (component) => `faraday_component_ready{component="${escapeLabel(component.name)}",state="${escapeLabel(component.state)}"} ${component.ready ? 1 : 0}`,
    ),
    "# HELP faraday_http_requests_total HTTP requests served.",
    "# TYPE faraday_http_requests_total counter",
    ...[...input.metrics.requests].map(([labels, count]) => `faraday_http_requests_total{${labels}} ${count}`),
    "# HELP faraday_auth_failures_total Requests rejected for a missing or wrong token.",
    "# TYPE faraday_auth_failures_total counter",
    `faraday_auth_failures_total ${input.metrics.authFailures}`,
  ];
  return lines.join("\n") + "\n";
}
