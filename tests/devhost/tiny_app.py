"""A small Functions app for the development host's own tests: one function of each trigger kind."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
CALLS: dict[str, list] = {"queue": [], "timer": [], "events": []}


@app.route(route="items/{item_id}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"item": req.route_params["item_id"], "q": dict(req.params)}),
                             mimetype="application/json")


@app.route(route="items/special", methods=["GET"])
def special(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("special")


@app.route(route="start", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        await client.start_new("waiting", instance_id=req.params["id"])
    except Exception as exc:  # noqa: BLE001 - the 409 of a running instance surfaces as an exception
        return func.HttpResponse(f"not started: {exc}", status_code=409)
    return func.HttpResponse("started", status_code=202)


@app.orchestration_trigger(context_name="context")
def waiting(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("go")
    return value


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    CALLS["events"].append((type(event).__name__, event.get_json() if hasattr(event, "get_json") else event.data))


@app.queue_trigger(arg_name="msg", queue_name="tiny-items", connection="TINY_STORAGE")
def on_item(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode()
    CALLS["queue"].append((body, msg.dequeue_count))
    if body == "poison":
        raise ValueError("this message always fails")


@app.timer_trigger(arg_name="timer", schedule="*/1 * * * * *", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    CALLS["timer"].append(timer.past_due)


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    greeting = yield context.call_activity("hello", context.get_input())
    suffix = yield context.wait_for_external_event("go")
    return f"{greeting}{suffix}"


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    CALLS.setdefault("hello", []).append(name)
    return f"hello {name}"
