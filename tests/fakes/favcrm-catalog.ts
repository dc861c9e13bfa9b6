/**
 * The rest of FavCRM's catalog for the fake (`startFavcrmFake({ catalog: "full" })`): 139 tools
 * that, with the 26 the fake implements in `favcrm-fake.ts`, make the 165 FavCRM serves at its
 * low end (165–190, /work/shared/notes/mcp-and-models.md). Names and annotations follow the names
 * the notes list (discovery, workspace/plan, bookings, invoices, comms) and FavCRM's categories
 * (customers/loyalty, subscriptions, commerce, content, knowledge, sales, surveys, reporting);
 * argument shapes follow the documented ones (`start`, `customer: {name, email, phone}`,
 * `idempotencyKey`, `confirm`).
 *
 * Each row is `[name, annotations, description, fields]`; `fields` names entries of FIELDS
 * (`?` marks an optional one), so every tool has a realistic JSON Schema with described
 * properties. These tools validate their arguments (the MCP SDK checks them against the schema)
 * and answer with a plausible result in FavCRM's `{data, summary, renderType}` shape; they keep
 * no state — the walk-through tools in `favcrm-fake.ts` do.
 */
import type { CallToolResult, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

const RO: ToolAnnotations = { readOnlyHint: true };
const W: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const D: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };
const WOW: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: true };

const id = (what: string, example: string) => z.string().min(1).describe(`${what} id, e.g. ${example}`);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD");
const money = z.number().nonnegative();

/** Every property a catalog tool may take, with its schema and description. */
const FIELDS = {
  query: z.string().min(1).describe("Free-text search (name, email, phone, notes)"),
  question: z.string().min(1).describe("The question, in plain language"),
  page: z.number().int().min(1).describe("Page number, from 1"),
  pageSize: z.number().int().min(1).max(100).describe("Results per page (max 100)"),
  companyId: id("Company", "cmp_1"),
  customerId: id("Customer", "cus_123"),
  otherCustomerId: id("The customer merged into the first", "cus_456"),
  serviceId: id("Service", "svc_123"),
  categoryId: id("Service category", "cat_12"),
  bookingId: id("Booking", "bk_123"),
  invoiceId: id("Invoice", "inv_123"),
  paymentId: id("Payment", "pay_123"),
  staffId: id("Staff member", "stf_12"),
  campaignId: id("Campaign", "cmp_abc"),
  audienceId: id("Audience", "aud_12"),
  conversationId: id("Conversation", "cnv_123"),
  templateId: id("Message template", "tpl_12"),
  approvalId: id("Send approval", "apr_123"),
  productId: id("Product", "prd_12"),
  orderId: id("Order", "ord_123"),
  couponId: id("Coupon", "cpn_12"),
  planId: id("Membership plan", "mpl_12"),
  subscriptionId: id("Subscription", "sub_123"),
  rewardId: id("Reward", "rwd_12"),
  articleId: id("Knowledge article", "kb_12"),
  leadId: id("Lead", "led_123"),
  dealId: id("Deal", "del_123"),
  pipelineId: id("Pipeline", "pip_1"),
  surveyId: id("Survey", "srv_12"),
  reviewId: id("Review", "rev_123"),
  webhookId: id("Webhook", "whk_12"),
  slotBlockId: id("Blocked time", "blk_12"),
  holidayId: id("Holiday", "hol_12"),
  name: z.string().min(1).describe("Name as shown to customers and staff"),
  email: z.string().email().describe("Email address"),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, "expected E.164, e.g. +85291234567").describe("Phone number in E.164"),
  customer: z.object({
    name: z.string().min(1).describe("Customer's full name"),
    email: z.string().email().optional().describe("Customer's email"),
    phone: z.string().optional().describe("Customer's phone in E.164"),
  }).describe("The customer: name, and email or phone"),
  customers: z.array(z.object({ name: z.string(), email: z.string().optional(), phone: z.string().optional() })).max(1000).describe("Customers to import"),
  tag: z.string().min(1).describe("Tag, e.g. vip"),
  note: z.string().min(1).describe("Note text"),
  status: z.string().describe("Filter by status"),
  date: isoDate.describe("Date, YYYY-MM-DD, in the company's time zone"),
  from: isoDate.describe("First day, YYYY-MM-DD"),
  to: isoDate.describe("Last day, YYYY-MM-DD"),
  start: z.string().describe("Start time, ISO 8601 with offset, e.g. 2026-03-02T15:00:00+08:00"),
  end: z.string().describe("End time, ISO 8601 with offset"),
  durationMinutes: z.number().int().positive().describe("Length in minutes"),
  price: money.describe("Price in the company's currency"),
  amount: money.describe("Amount in the company's currency"),
  currency: z.string().length(3).describe("ISO 4217 currency, e.g. HKD"),
  method: z.enum(["cash", "card", "bank_transfer", "fps", "other"]).describe("How it was paid"),
  reason: z.string().describe("Why (kept in the audit trail)"),
  description: z.string().describe("Description"),
  quantity: z.number().int().describe("Quantity (negative to remove stock)"),
  points: z.number().int().positive().describe("Loyalty points"),
  percentOff: z.number().min(1).max(100).describe("Discount in percent"),
  code: z.string().min(3).describe("Code customers type at checkout"),
  items: z.array(z.object({ description: z.string(), quantity: z.number().int().positive(), unitPrice: money })).min(1).describe("Line items"),
  weekday: z.enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]).describe("Day of the week"),
  opens: z.string().regex(/^\d{2}:\d{2}$/).describe("Opening time, HH:MM"),
  closes: z.string().regex(/^\d{2}:\d{2}$/).describe("Closing time, HH:MM"),
  hours: z.array(z.object({ weekday: z.string(), opens: z.string(), closes: z.string() })).describe("Opening hours per weekday"),
  role: z.enum(["owner", "manager", "staff"]).describe("Staff role"),
  subject: z.string().describe("Email subject"),
  body: z.string().min(1).describe("Message body; {{name}} is replaced per customer"),
  channel: z.enum(["whatsapp", "email", "sms"]).describe("Channel to send on"),
  scheduledAt: z.string().describe("When to send, ISO 8601 with offset"),
  filter: z.record(z.string(), z.unknown()).describe("Audience filter, e.g. {\"tag\": \"vip\", \"lastVisitBefore\": \"2026-01-01\"}"),
  settings: z.record(z.string(), z.unknown()).describe("Settings to change, by key"),
  url: z.string().url().describe("HTTPS address"),
  events: z.array(z.string()).min(1).describe("Event names, e.g. booking.created"),
  stage: z.enum(["new", "contacted", "qualified", "proposal", "won", "lost"]).describe("Pipeline stage"),
  rating: z.number().int().min(1).max(5).describe("Star rating"),
  questions: z.array(z.string()).min(1).describe("Survey questions"),
  reply: z.string().min(1).describe("Public reply text"),
  format: z.enum(["csv", "xlsx", "pdf"]).describe("File format"),
  report: z.string().describe("Report name, e.g. revenue"),
  idempotencyKey: z.string().min(1).describe("Unique per intended action; repeating it is a no-op"),
  confirm: z.boolean().describe("Must be true to act; false previews"),
  toolName: z.string().describe("A FavCRM tool name"),
  quotaCode: z.string().describe("Quota code, e.g. bookings"),
  delta: z.number().int().describe("How many more would be used"),
  planCode: z.enum(["starter", "growth", "pro"]).describe("Plan to upgrade to"),
  active: z.boolean().describe("Active or not"),
  title: z.string().min(1).describe("Title"),
  content: z.string().min(1).describe("Content (Markdown)"),
  answer: z.string().min(1).describe("Answer text"),
  value: money.describe("Value in the company's currency"),
  interval: z.enum(["week", "month", "year"]).describe("Billing interval"),
  sku: z.string().describe("Stock-keeping unit"),
} satisfies Record<string, z.ZodType>;

type FieldName = keyof typeof FIELDS;
type Row = readonly [name: string, annotations: ToolAnnotations, description: string, fields: string];

/** The table: 139 tools across FavCRM's categories. */
const ROWS: readonly Row[] = [
  // discovery, workspace and plan
  ["query_favcrm_platform", RO, "Ask how FavCRM works (features, where a setting lives, limits).", "question"],
  ["query_company_knowledge", RO, "Search this company's own knowledge base (policies, prices, FAQs) to answer a question.", "question"],
  ["switch_company", W, "Switch the company later calls act on (see list_my_companies).", "companyId"],
  ["check_plan_operation", RO, "Check whether the current plan allows an operation or has quota left before doing it.", "toolName? quotaCode? delta?"],
  ["list_plan_options", RO, "List the plans the company can move to, with prices and limits.", ""],
  ["create_plan_upgrade_link", W, "Create a Stripe checkout link to upgrade the plan (only with confirm=true).", "planCode confirm"],
  ["get_whatsapp_connection_status", RO, "Show whether the company's WhatsApp Business number is connected.", ""],
  ["get_company_profile", RO, "Show the company's profile: name, address, time zone, currency.", ""],
  ["update_company_profile", W, "Change the company's profile (name, address, time zone, currency).", "settings"],
  // customers
  ["list_customers", RO, "List customers, newest first, optionally by tag.", "tag? page? pageSize?"],
  ["search_customers", RO, "Find customers by name, email, phone or notes.", "query page? pageSize?"],
  ["get_customer", RO, "Show one customer: contact details, tags, visits, spend and points.", "customerId"],
  ["create_customer", W, "Add a customer to the CRM.", "customer tag?"],
  ["update_customer", W, "Change a customer's name, email or phone.", "customerId name? email? phone?"],
  ["delete_customer", D, "Delete a customer and their history. Cannot be undone.", "customerId reason?"],
  ["merge_customers", D, "Merge two customer records into the first (bookings, invoices and points move).", "customerId otherCustomerId"],
  ["add_customer_tag", W, "Tag a customer (e.g. vip) for filters and campaigns.", "customerId tag"],
  ["remove_customer_tag", W, "Remove a tag from a customer.", "customerId tag"],
  ["list_customer_tags", RO, "List the tags in use, with how many customers carry each.", ""],
  ["add_customer_note", W, "Add a private note to a customer's record.", "customerId note"],
  ["list_customer_notes", RO, "List the notes on a customer's record.", "customerId"],
  ["import_customers", W, "Import customers in bulk; duplicates (same email or phone) are merged.", "customers"],
  ["export_customers", RO, "Export customers as a file and return its download link.", "format tag?"],
  // services
  ["get_service", RO, "Show one service: duration, price, staff who perform it.", "serviceId"],
  ["update_service", W, "Change a service's name, duration or price.", "serviceId name? durationMinutes? price?"],
  ["archive_service", D, "Archive a service so it can no longer be booked.", "serviceId reason?"],
  ["list_service_categories", RO, "List service categories.", ""],
  ["create_service_category", W, "Create a service category.", "name description?"],
  // slots, hours and availability
  ["get_business_hours", RO, "Show opening hours per weekday.", ""],
  ["set_business_hours", W, "Set opening hours per weekday.", "hours"],
  ["get_staff_availability", RO, "List free times of one staff member on a date.", "staffId date serviceId?"],
  ["block_time_slot", W, "Block a time range so nothing can be booked in it.", "start end staffId? reason?"],
  ["unblock_time_slot", W, "Remove a blocked time range.", "slotBlockId"],
  ["list_blocked_slots", RO, "List blocked time ranges between two dates.", "from to staffId?"],
  ["list_holidays", RO, "List days the business is closed.", "from? to?"],
  ["create_holiday", W, "Close the business for a day.", "date name"],
  // bookings (besides the walk-through tools)
  ["reschedule_booking", W, "Move a booking to another free start time.", "bookingId start idempotencyKey"],
  ["update_booking_notes", W, "Change the notes on a booking.", "bookingId note"],
  ["list_upcoming_bookings", RO, "List bookings from now on, soonest first.", "staffId? page? pageSize?"],
  ["list_customer_bookings", RO, "List one customer's bookings.", "customerId status?"],
  ["assign_booking_staff", W, "Assign a booking to a staff member.", "bookingId staffId"],
  ["get_booking_calendar", RO, "Show the day's calendar: bookings per staff member.", "date staffId?"],
  ["send_booking_reminder", WOW, "Send the customer a reminder of their booking now.", "bookingId channel?"],
  // invoices (besides the walk-through tools)
  ["get_invoice", RO, "Show one invoice with its items and payments.", "invoiceId"],
  ["create_invoice", W, "Create an invoice for a customer.", "customerId items currency? bookingId?"],
  ["update_invoice", W, "Change an open invoice's items.", "invoiceId items"],
  ["send_invoice", WOW, "Email an invoice to its customer.", "invoiceId email?"],
  ["list_overdue_invoices", RO, "List open invoices past their due date.", "page? pageSize?"],
  // payments
  ["list_payments", RO, "List payments received between two dates.", "from? to? method? page?"],
  ["get_payment", RO, "Show one payment.", "paymentId"],
  ["record_payment", W, "Record a payment that is not tied to an invoice.", "customerId amount method note?"],
  ["refund_payment", D, "Refund a payment in full or in part. Cannot be undone.", "paymentId amount reason idempotencyKey"],
  ["list_refunds", RO, "List refunds between two dates.", "from? to?"],
  ["create_payment_link", W, "Create a link a customer can pay an invoice with.", "invoiceId"],
  // staff
  ["list_staff", RO, "List staff members and their roles.", "active?"],
  ["get_staff_member", RO, "Show one staff member: contact, role, services, schedule.", "staffId"],
  ["create_staff_member", W, "Add a staff member.", "name email role phone?"],
  ["update_staff_member", W, "Change a staff member's details or role.", "staffId name? email? role?"],
  ["deactivate_staff_member", D, "Deactivate a staff member; their future bookings must be reassigned.", "staffId reason?"],
  ["get_staff_schedule", RO, "Show a staff member's working hours.", "staffId from? to?"],
  ["set_staff_schedule", W, "Set a staff member's working hours per weekday.", "staffId hours"],
  ["assign_staff_service", W, "Let a staff member perform a service.", "staffId serviceId"],
  // campaigns (send_campaign and send_test_campaign are in favcrm-fake.ts)
  ["list_campaigns", RO, "List marketing campaigns and their status.", "status? page?"],
  ["get_campaign", RO, "Show one campaign: audience, message, schedule.", "campaignId"],
  ["create_campaign", W, "Draft a campaign (sending needs request_send_approval).", "name channel body audienceId subject?"],
  ["update_campaign", W, "Change a draft campaign.", "campaignId name? body? subject?"],
  ["delete_campaign", D, "Delete a draft campaign.", "campaignId"],
  ["schedule_campaign", WOW, "Schedule an approved campaign to send later.", "campaignId scheduledAt"],
  ["get_campaign_stats", RO, "Show a campaign's deliveries, opens, clicks and bookings.", "campaignId"],
  ["list_audiences", RO, "List saved audiences for campaigns.", ""],
  ["create_audience", W, "Save an audience from a customer filter.", "name filter"],
  // messages (send_message / send_whatsapp_message / request_send_approval are in favcrm-fake.ts)
  ["list_conversations", RO, "List customer conversations, most recent first.", "channel? page?"],
  ["get_conversation", RO, "Show one conversation's messages.", "conversationId"],
  ["list_messages", RO, "List messages exchanged with a customer.", "customerId channel?"],
  ["list_message_templates", RO, "List saved message templates.", "channel?"],
  ["create_message_template", W, "Save a message template.", "name channel body"],
  ["update_message_template", W, "Change a message template.", "templateId body"],
  ["delete_message_template", D, "Delete a message template.", "templateId"],
  ["list_send_approvals", RO, "List sends waiting for the business's approval.", "status?"],
  ["get_send_approval", RO, "Show one pending send and who asked for it.", "approvalId"],
  ["cancel_send_approval", D, "Withdraw a pending send request.", "approvalId reason?"],
  // reports
  ["get_dashboard_summary", RO, "Today at a glance: bookings, revenue, new customers.", "date?"],
  ["get_revenue_report", RO, "Revenue by day, service and staff between two dates.", "from to"],
  ["get_booking_report", RO, "Bookings by status, service and staff between two dates.", "from to"],
  ["get_customer_report", RO, "New, returning and lapsed customers between two dates.", "from to"],
  ["get_staff_performance_report", RO, "Bookings, revenue and ratings per staff member.", "from to"],
  ["get_no_show_report", RO, "No-shows and late cancellations between two dates.", "from to"],
  ["get_service_popularity_report", RO, "Most and least booked services between two dates.", "from to"],
  ["export_report", RO, "Export a report as a file and return its download link.", "report from to format"],
  // settings and integrations
  ["get_settings", RO, "Show the company's settings.", ""],
  ["update_settings", W, "Change company settings by key.", "settings"],
  ["get_booking_policy", RO, "Show the booking policy: lead time, cancellation window, deposits.", ""],
  ["update_booking_policy", W, "Change the booking policy.", "settings"],
  ["get_notification_settings", RO, "Show which reminders and notifications are sent.", ""],
  ["update_notification_settings", W, "Turn reminders and notifications on or off.", "settings"],
  ["list_integrations", RO, "List connected integrations (calendar, payments, WhatsApp).", ""],
  ["list_webhooks", RO, "List webhooks.", ""],
  ["create_webhook", WOW, "Send events to an HTTPS address.", "url events"],
  ["delete_webhook", D, "Delete a webhook.", "webhookId"],
  // loyalty
  ["get_loyalty_program", RO, "Show the loyalty programme's rules.", ""],
  ["update_loyalty_program", W, "Change the loyalty programme's rules.", "settings"],
  ["get_customer_points", RO, "Show a customer's points balance and history.", "customerId"],
  ["add_customer_points", W, "Give a customer loyalty points.", "customerId points reason"],
  ["redeem_customer_points", W, "Redeem a customer's points for a reward.", "customerId rewardId idempotencyKey"],
  ["list_rewards", RO, "List rewards customers can redeem.", ""],
  ["create_reward", W, "Create a reward.", "name points description?"],
  // memberships and subscriptions
  ["list_membership_plans", RO, "List membership plans.", ""],
  ["create_membership_plan", W, "Create a membership plan.", "name price interval description?"],
  ["list_subscriptions", RO, "List customers' subscriptions.", "status? customerId?"],
  ["create_subscription", W, "Subscribe a customer to a membership plan.", "customerId planId start?"],
  ["pause_subscription", W, "Pause a subscription until a date.", "subscriptionId to"],
  ["cancel_subscription", D, "Cancel a subscription at the end of its period.", "subscriptionId reason idempotencyKey"],
  // commerce
  ["list_products", RO, "List products for sale.", "query? page?"],
  ["get_product", RO, "Show one product with its stock.", "productId"],
  ["create_product", W, "Add a product.", "name price sku? description?"],
  ["update_product", W, "Change a product's name, price or description.", "productId name? price? description?"],
  ["archive_product", D, "Stop selling a product.", "productId"],
  ["adjust_inventory", W, "Add or remove stock of a product.", "productId quantity reason"],
  ["list_orders", RO, "List orders between two dates.", "from? to? status?"],
  ["get_order", RO, "Show one order.", "orderId"],
  ["create_order", W, "Create an order for a customer.", "customerId items"],
  ["list_coupons", RO, "List coupons and their use.", "active?"],
  ["create_coupon", W, "Create a discount coupon.", "code percentOff to?"],
  ["deactivate_coupon", D, "Stop a coupon from being used.", "couponId"],
  // content and knowledge
  ["list_knowledge_articles", RO, "List the company's knowledge-base articles.", "query?"],
  ["create_knowledge_article", W, "Write a knowledge-base article.", "title content"],
  ["update_knowledge_article", W, "Change a knowledge-base article.", "articleId content"],
  ["delete_knowledge_article", D, "Delete a knowledge-base article.", "articleId"],
  // sales
  ["list_leads", RO, "List sales leads by stage.", "stage? page?"],
  ["create_lead", W, "Add a sales lead.", "customer value? note?"],
  ["update_lead_stage", W, "Move a lead to another stage.", "leadId stage"],
  ["list_deals", RO, "List deals in a pipeline.", "pipelineId? stage?"],
  ["create_deal", W, "Open a deal for a customer.", "customerId title value pipelineId?"],
  ["close_deal", W, "Close a deal as won or lost.", "dealId stage reason?"],
  // surveys and reviews
  ["list_surveys", RO, "List customer surveys.", ""],
  ["create_survey", W, "Create a customer survey.", "title questions"],
  ["get_survey_results", RO, "Show a survey's answers and scores.", "surveyId"],
  ["list_reviews", RO, "List customer reviews, lowest rating first.", "rating? page?"],
  ["reply_to_review", WOW, "Post a public reply to a review.", "reviewId reply"],
];

/** A catalog tool in the shape `favcrm-fake.ts` registers. */
export interface CatalogTool {
  readonly name: string;
  readonly description: string;
  readonly annotations: ToolAnnotations;
  readonly input: z.ZodRawShape;
  readonly requiresAuth: true;
  run(args: Record<string, unknown>): CallToolResult;
}

function shapeOf(name: string, fields: string): z.ZodRawShape {
  const shape: Record<string, z.ZodType> = {};
  for (const token of fields.split(/\s+/).filter(Boolean)) {
    const optional = token.endsWith("?");
    const field = (optional ? token.slice(0, -1) : token) as FieldName;
    const schema: z.ZodType | undefined = FIELDS[field];
    if (!schema) throw new Error(`favcrm catalog: ${name} names unknown field ${field}`);
    shape[field] = optional ? schema.optional() : schema;
  }
  return shape;
}

/** A result like FavCRM's: lists are empty tables, reads echo what was asked, writes return a new id. */
function stubResult(name: string, annotations: ToolAnnotations, args: Record<string, unknown>, sequence: number): CallToolResult {
  const summaryOf = (summary: string, data: unknown, renderType: string): CallToolResult =>
    ({ structuredContent: { data, summary, renderType }, content: [{ type: "text", text: summary }] });
  if (annotations.readOnlyHint && /^(list|search|export)_/.test(name)) return summaryOf(`0 results for ${name}`, [], "table");
  if (annotations.readOnlyHint) return summaryOf(`${name}: nothing recorded yet`, { ...args }, "detail");
  return summaryOf(`${name} done`, { id: `${name.split("_").at(-1)}_${String(sequence).padStart(4, "0")}`, ...args }, "detail");
}

/** The 139 catalog tools, fresh per fake. */
export function favcrmCatalogTools(): CatalogTool[] {
  let sequence = 0;
  return ROWS.map(([name, annotations, description, fields]) => ({
    name,
    description,
    annotations,
    input: shapeOf(name, fields),
    requiresAuth: true,
    run: (args: Record<string, unknown>) => stubResult(name, annotations, args, (sequence += 1)),
  }));
}

/** Names of the catalog tools (not the 26 of `favcrm-fake.ts`). */
export const FAVCRM_CATALOG_TOOL_NAMES: readonly string[] = ROWS.map(([name]) => name);
