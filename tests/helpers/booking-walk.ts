/**
 * The FavCRM booking walk through `find_tools`, as a scripted model plays it, for the
 * tools-at-scale tests and `npm run bench` (tools bench): find the booking tools, list services,
 * get free slots, book. Each step checks that what find_tools found is offered from the next
 * round on; a failed check makes the fake model answer 500, so the turn cannot end "Booked".
 */
import { toolResults, type RecordedRequest, type ScriptStep } from "../fakes/model-script.ts";

/** The tool names a model request carried, in either provider's wire format. */
export function sentTools(request: RecordedRequest): string[] {
  const tools = (request.body?.tools ?? []) as Array<{ name?: string; function?: { name: string } }>;
  return tools.map((tool) => tool.name ?? tool.function!.name);
}

/** The parsed content of the last tool result the model received. */
export const lastResult = (request: RecordedRequest) => JSON.parse(toolResults(request).at(-1)!.content);
/** Its `data` (FavCRM: structuredContent {data, summary, renderType}). */
export const lastData = (request: RecordedRequest) => lastResult(request).data;

/** The message that starts the walk, and what its reply starts with when it worked. */
export const BOOKING_WALK_MESSAGE = "Book Amy in for a consultation on 1 December";
export const BOOKING_WALK_REPLY = /^Booked: bk_/;
/** Tools the gateway runs in the walk, in order. */
export const BOOKING_WALK_CALLS = ["find_tools", "favcrm__list_services", "favcrm__get_available_slots", "favcrm__create_booking"];

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** The scripted model's five steps. */
export function bookingWalkSteps(): ScriptStep[] {
  return [
    (request) => {
      check(!sentTools(request).includes("favcrm__create_booking"), "create_booking is offered before find_tools");
      return { toolCalls: [{ name: "find_tools", arguments: { query: "list services available slots create booking", limit: 6 } }] };
    },
    (request) => {
      const found = (lastResult(request).found as Array<{ name: string }>).map((hit) => hit.name);
      for (const name of ["favcrm__list_services", "favcrm__get_available_slots", "favcrm__create_booking"]) {
        check(found.includes(name), `find_tools did not find ${name}: ${found.join(", ")}`);
        check(sentTools(request).includes(name), `${name} is not offered in the round after find_tools`);
      }
      return { toolCalls: [{ name: "favcrm__list_services", arguments: {} }] };
    },
    (request) => ({ toolCalls: [{ name: "favcrm__get_available_slots", arguments: { serviceId: lastData(request)[0].serviceId, date: "2026-12-01" } }] }),
    (request) => {
      const data = lastData(request);
      return { toolCalls: [{ name: "favcrm__create_booking", arguments: { serviceId: data.serviceId, slot: data.slots[0], customerName: "Amy", customerPhone: "+85291234567" } }] };
    },
    (request) => ({ text: `Booked: ${lastData(request).bookingId}` }),
  ];
}
