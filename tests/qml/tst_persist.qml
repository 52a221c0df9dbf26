// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import QtTest
import Synq

// The JavaScript persist hook, explicit transactions, retryPolicy and dead letters from QML.
TestCase {
    id: testCase
    name: "Persist"

    property int serial: 0
    function makeEngine() {
        serial += 1
        const engine = createTemporaryObject(engineComponent, testCase,
                                             { databasePath: "persist-" + serial + "-" + Date.now() + ".sqlite" })
        verify(engine.open(), "the engine opens its database")
        return engine
    }
    function makeCollection(engine, persist, strategy) {
        return createTemporaryObject(collectionComponent, testCase,
                                     { engine: engine, persist: persist,
                                       strategy: strategy === undefined ? SyncCollection.Ordered
                                                                        : strategy })
    }

    Component {
        id: engineComponent
        SyncEngine {
            retryPolicy {
                maxRetries: 2
                initialDelayMs: 10
                maxDelayMs: 20
            }
        }
    }
    Component {
        id: collectionComponent
        SyncCollection {
            name: "notes"
            fields: ["text"]
        }
    }
    Component {
        id: spyComponent
        SignalSpy { }
    }

    function test_retryPolicyIsAGroupedProperty() {
        const engine = makeEngine()
        compare(engine.retryPolicy.maxRetries, 2)
        compare(engine.retryPolicy.initialDelayMs, 10)
        compare(engine.retryPolicy.maxDelayMs, 20)
        compare(engine.retryPolicy.multiplier, 2)
        engine.retryPolicy.maxRetries = 0
        compare(engine.retryPolicy.maxRetries, 0)
    }

    function test_resolvedPromiseCompletes() {
        const engine = makeEngine()
        const seen = []
        const notes = makeCollection(engine, (transaction) => {
            seen.push(transaction.mutations[0].changes.text)
            return new Promise((resolve) => resolve())
        })
        const t = notes.insert({ text: "hello" })
        verify(t)
        compare(t.state, Transaction.Pending)
        tryCompare(t, "state", Transaction.Completed, 5000)
        compare(seen, ["hello"])
        compare(t.attempts.length, 1)
        compare(notes.get(0).syncState, SyncCollection.Synced)
        compare(notes.get(0).text, "hello")
    }

    // F14 under the parallel strategy: three field edits of one row are three persist calls,
    // and rejecting the middle one rolls back only its field.
    function test_f14_parallelEditsPersistAndFailAlone() {
        const engine = makeEngine()
        const calls = []
        const notes = makeCollection(engine, (transaction) => {
            const changes = transaction.mutations[0].changes
            calls.push(JSON.stringify(changes))
            if (changes.b !== undefined)
                return Promise.reject({ retryable: false, message: "no b" })
            return Promise.resolve()
        }, SyncCollection.Parallel)
        const created = notes.insert({ id: "n1", text: "row" })
        tryCompare(created, "state", Transaction.Completed, 5000)
        calls.length = 0
        // In one turn: nothing is sent before all three are in the outbox.
        const first = notes.update("n1", { a: 1 })
        const second = notes.update("n1", { b: 2 })
        const third = notes.update("n1", { c: 3 })
        tryCompare(third, "state", Transaction.Completed, 5000)
        tryCompare(second, "state", Transaction.Failed, 5000)
        tryCompare(first, "state", Transaction.Completed, 5000)
        compare(calls.sort(), ['{"a":1}', '{"b":2}', '{"c":3}'])
        compare(second.error.message, "no b")
        const row = notes.getByKey("n1")
        compare(row.a, 1)
        compare(row.b, undefined)
        compare(row.c, 3)
        compare(row.syncState, SyncCollection.Failed) // until the dead letter is discarded
        verify(engine.discard(second.id))
        compare(notes.getByKey("n1").syncState, SyncCollection.Synced)
    }

    function test_plainReturnValueMeansPersisted() {
        const engine = makeEngine()
        const notes = makeCollection(engine, (transaction) => true)
        const t = notes.insert({ text: "sync" })
        tryCompare(t, "state", Transaction.Completed, 5000)
    }

    function test_nonRetriableRejectionFailsAtOnce() {
        const engine = makeEngine()
        let calls = 0
        const notes = makeCollection(engine, (transaction) => {
            calls += 1
            return Promise.reject({ retryable: false, message: "the API said no", code: "forbidden" })
        })
        const mutationFailed = createTemporaryObject(spyComponent, testCase,
                                                     { target: notes, signalName: "mutationFailed" })
        const t = notes.insert({ text: "refused" })
        const failed = createTemporaryObject(spyComponent, testCase, { target: t, signalName: "failed" })
        tryCompare(t, "state", Transaction.Failed, 5000)
        compare(mutationFailed.count, 1)
        compare(mutationFailed.signalArguments[0][0], t)
        compare(mutationFailed.signalArguments[0][1].code, SyncError.Forbidden)
        compare(calls, 1)
        compare(failed.count, 1)
        compare(t.error.message, "the API said no")
        compare(t.error.retryable, false)
        compare(t.error.code, SyncError.Forbidden)
        compare(notes.count, 0) // rolled back
        compare(engine.status.failedCount, 1)
    }

    function test_otherRejectionsAreRetriedUntilTheyRunOut() {
        const engine = makeEngine()
        let calls = 0
        const notes = makeCollection(engine, (transaction) => {
            calls += 1
            return Promise.reject(new Error("server down"))
        })
        const t = notes.insert({ text: "try" })
        tryCompare(t, "state", Transaction.Failed, 10000)
        compare(calls, 3) // maxRetries 2: three attempts
        compare(t.attempts.length, 3)
        compare(t.currentAttempt, 3)
        compare(t.error.message, "server down")
        compare(t.error.retryable, true)
    }

    function test_exceptionIsARetriedFailure() {
        const engine = makeEngine()
        let calls = 0
        const notes = makeCollection(engine, (transaction) => {
            calls += 1
            if (calls === 1)
                throw new Error("boom")
            return Promise.resolve()
        })
        const t = notes.insert({ text: "again" })
        tryCompare(t, "state", Transaction.Completed, 5000)
        compare(calls, 2)
        compare(t.attempts[0].error.message, "boom")
    }

    function test_deadLetterRetryAndDiscard() {
        const engine = makeEngine()
        let accept = false
        const notes = makeCollection(engine, (transaction) =>
            accept ? Promise.resolve() : Promise.reject({ retryable: false, message: "no" }))
        const t = notes.insert({ text: "letter" })
        tryCompare(t, "state", Transaction.Failed, 5000)
        compare(notes.count, 0)
        accept = true
        verify(engine.retry(t.id))
        compare(notes.count, 1) // shown again
        tryCompare(t, "state", Transaction.Completed, 5000)
        verify(!engine.retry(t.id), "only failed transactions can be retried")

        accept = false
        const u = notes.insert({ text: "gone" })
        tryCompare(u, "state", Transaction.Failed, 5000)
        const removed = createTemporaryObject(spyComponent, testCase,
                                              { target: engine, signalName: "transactionRemoved" })
        verify(engine.discard(u.id))
        compare(removed.count, 1)
        compare(engine.transaction(u.id), null)
    }

    function test_explicitTransaction() {
        const engine = makeEngine()
        const pushed = []
        const notes = makeCollection(engine, (transaction) => {
            pushed.push(transaction.mutations.length)
            return Promise.resolve()
        })
        const t = engine.begin()
        verify(t.open)
        const first = t.insert("notes", { text: "one" })
        const second = t.insert("notes", { text: "two" })
        verify(first.length > 0 && second.length > 0)
        verify(t.update("notes", first, { text: "one!" }))
        compare(notes.count, 0) // nothing shows before commit
        verify(t.commit())
        verify(!t.open)
        compare(notes.count, 2)
        compare(notes.getByKey(first).text, "one!")
        tryCompare(t, "state", Transaction.Completed, 5000)
        compare(pushed, [3]) // one persist call for the whole unit

        const r = engine.begin()
        verify(r.insert("notes", { text: "never" }).length > 0)
        r.rollback()
        compare(r.state, Transaction.Failed)
        compare(r.error.code, SyncError.Cancelled)
        compare(notes.count, 2)
    }

    function test_mergePutsPendingChangesOnTopOfTheNewSyncedState() {
        const engine = makeEngine()
        let calls = 0
        const notes = createTemporaryObject(collectionComponent, testCase, {
            engine: engine,
            strategy: SyncCollection.Parallel,
            // The second transaction stays on its way; the others persist at once.
            persist: (transaction) => {
                calls += 1
                return calls === 2 ? new Promise(() => {}) : Promise.resolve()
            },
            merge: (synced, pending) => ({ id: synced.id,
                                           text: synced.text + "|" + pending.map((m) => m.changes.text).join("+") })
        })
        const first = notes.insert({ text: "a" })
        tryCompare(first, "state", Transaction.Completed, 5000)
        const key = notes.get(0).key
        const second = notes.update(key, { text: "b" })
        compare(notes.get(0).text, "b") // the default fold while nothing synced changed
        tryCompare(second, "state", Transaction.Persisting, 5000)
        const third = notes.update(key, { text: "c" })
        tryCompare(third, "state", Transaction.Completed, 5000) // parallel: it does not wait
        compare(second.state, Transaction.Persisting)
        // The synced state is now "c" (the third change); the pending "b" goes on top through
        // the merge function.
        compare(notes.get(0).text, "c|b")
        compare(notes.get(0).isOptimistic, true)
    }
}
