import { createActor, type ActorScope, type AnyActorLogic, type EventFromLogic, type ExecutableActionsFrom, type InputFrom, type SnapshotFrom } from 'xstate';
import { orderMachine } from '../../machines/order/index.ts';

type Machine = typeof orderMachine;
type Step = [snapshot: SnapshotFrom<Machine>, actions: ExecutableActionsFrom<Machine>[]];

/**
 * XState's pure `transition()` / `initialTransition()` with one actor scope for the life of the
 * host instead of one per call. XState builds that scope by constructing an `Actor` — which computes
 * the machine's whole initial snapshot — and a fresh actor system, on every call: ~60 µs and ~30 KB
 * of garbage per event, more than the transition itself. Here the scope is made once and the
 * machine's own `transition(snapshot, event, scope)` / `getInitialSnapshot(scope, input)` (its
 * `ActorLogic` interface) is called with it, collecting the returned actions exactly as
 * `transition()` does.
 *
 * Sharing the scope is safe because the order machine runs no actors, delays or `sendTo`: nothing
 * it does registers in the scope's system or schedules on it (`machines/order/order.machine.ts` is
 * effects-as-named-actions only, timers live in Postgres). Steps are synchronous, so the action
 * sink of one call cannot interleave with another's.
 */
export interface OrderStepper {
  /** Same as `initialTransition(orderMachine, input)`. */
  initial(input: InputFrom<Machine>): Step;
  /** Same as `transition(orderMachine, snapshot, event)`. */
  step(snapshot: SnapshotFrom<Machine>, event: EventFromLogic<Machine>): Step;
}

export function createOrderStepper(): OrderStepper {
  let sink: ExecutableActionsFrom<Machine>[] = [];
  type Scope = ActorScope<SnapshotFrom<Machine>, EventFromLogic<Machine>>;
  // Never started; built without input as XState's own `transition()` builds its scope's actor.
  const self = createActor(orderMachine as AnyActorLogic) as Scope['self'];
  const scope: Scope = {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    defer: () => {},
    logger: () => {},
    stopChild: () => {},
    emit: () => {},
    actionExecutor: (action) => {
      sink.push(action as ExecutableActionsFrom<Machine>);
    },
  };
  const collect = (run: () => SnapshotFrom<Machine>): Step => {
    sink = [];
    const snapshot = run();
    const actions = sink;
    sink = [];
    return [snapshot, actions];
  };
  return {
    initial: (input) => collect(() => orderMachine.getInitialSnapshot(scope, input)),
    step: (snapshot, event) => collect(() => orderMachine.transition(snapshot, event, scope)),
  };
}
