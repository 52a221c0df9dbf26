// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import QtTest
import Synq

TestCase {
    id: testCase
    name: "TransactionModel"
    when: windowShown
    width: 400
    height: 400

    // Each test opens its own database file in the run folder.
    property int serial: 0
    function makeEngine() {
        serial += 1
        const engine = createTemporaryObject(engineComponent, testCase,
                                             { databasePath: "transactions-" + serial + "-" + Date.now() + ".sqlite" })
        verify(engine.open(), "the engine opens its database")
        return engine
    }
    function makeCollection(engine, name) {
        return createTemporaryObject(collectionComponent, testCase, { engine: engine, name: name })
    }
    function makeModel(properties) {
        return createTemporaryObject(modelComponent, testCase, properties)
    }

    Component {
        id: engineComponent
        SyncEngine {
            autoSync: false
        }
    }
    Component {
        id: collectionComponent
        SyncCollection {
            fields: ["title", "done"]
        }
    }
    Component {
        id: modelComponent
        TransactionModel { }
    }
    Component {
        id: listComponent
        ListView {
            width: 200
            height: 400
            delegate: Item {
                id: row
                // "state" is also Item's own property: read the roles through the model.
                required property var model
                property string transactionId: row.model.transactionId
                property int txState: row.model.state
                property string stateName: row.model.stateName
                property int mutationCount: row.model.mutationCount
                property var keys: row.model.keys
                width: 200
                height: 20
            }
        }
    }
    Component {
        id: spyComponent
        SignalSpy { }
    }

    function test_roleNamesAndEnums() {
        const engine = makeEngine()
        const model = makeModel({ engine: engine })
        compare(model.count, 0)
        compare(model.engine, engine)
        compare(model.collection, "")
        compare(model.states.length, 0)
        compare(TransactionModel.TransactionIdRole, 257)
        compare(Transaction.Pending, 1)
        compare(Transaction.Failed, 5)
        compare(model.get(0), {})
        compare(model.transactionAt(0), null)
    }

    function test_insertShowsARow() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        const model = makeModel({ engine: engine })
        const inserted = createTemporaryObject(spyComponent, testCase,
                                               { target: model, signalName: "rowsInserted" })
        const t = todos.insert({ title: "Milk", done: false })
        verify(t !== null)
        compare(model.count, 1)
        compare(inserted.count, 1)
        compare(inserted.signalArguments[0][1], 0)
        compare(inserted.signalArguments[0][2], 0)

        const row = model.get(0)
        compare(row.transactionId, t.id)
        compare(row.state, Transaction.Pending)
        compare(row.stateName, "Pending")
        compare(row.strategy, Transaction.Ordered)
        compare(row.mutationCount, 1)
        compare(row.attemptCount, 0)
        compare(row.currentAttempt, 0)
        compare(row.queuedBehind, "")
        compare(row.errorCode, SyncError.None)
        compare(row.errorMessage, "")
        compare(row.failedBecauseOf, "")
        compare(row.collections, ["todos"])
        compare(row.keys, [t.key])
        verify(row.createdAt instanceof Date)
        compare(row.createdAt.getTime(), t.createdAt.getTime())
        compare(model.transactionAt(0).id, t.id)
        compare(model.indexOf(t.id), 0)

        const t2 = todos.update(t.key, { done: true })
        verify(t2 !== null)
        compare(model.count, 2)
        compare(model.get(1).transactionId, t2.id)
        compare(model.get(1).keys, [t.key])
    }

    function test_listViewShowsTheRoles() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        const model = makeModel({ engine: engine })
        const view = createTemporaryObject(listComponent, testCase, { model: model })
        todos.insert({ title: "one" })
        const t = todos.insertMany([{ title: "two" }, { title: "three" }])
        compare(view.count, 2)
        tryVerify(() => view.itemAtIndex(1) !== null)
        const item = view.itemAtIndex(1)
        compare(item.transactionId, t.id)
        compare(item.txState, Transaction.Pending)
        compare(item.stateName, "Pending")
        compare(item.mutationCount, 2)
        compare(item.keys.length, 2)
    }

    function test_statesFilter() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        todos.insert({ title: "one" })
        todos.insert({ title: "two" })
        const dead = makeModel({ engine: engine, states: [Transaction.Failed] })
        compare(dead.states, [Transaction.Failed])
        compare(dead.count, 0, "nothing has failed: no dead letters")
        const pending = makeModel({ engine: engine,
                                    states: [Transaction.Pending, Transaction.Queued] })
        compare(pending.states, [Transaction.Queued, Transaction.Pending])
        compare(pending.count, 2)
        todos.insert({ title: "three" })
        compare(pending.count, 3)
        compare(dead.count, 0)

        const reset = createTemporaryObject(spyComponent, testCase,
                                            { target: dead, signalName: "modelReset" })
        dead.states = [Transaction.Failed, Transaction.Pending]
        compare(reset.count, 1)
        compare(dead.count, 3)
        dead.states = []
        compare(dead.count, 3)
    }

    function test_collectionFilter() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        const projects = makeCollection(engine, "projects")
        const model = makeModel({ engine: engine, collection: "projects" })
        todos.insert({ title: "a todo" })
        compare(model.count, 0)
        const p = projects.insert({ title: "a project" })
        compare(model.count, 1)
        compare(model.get(0).transactionId, p.id)
        compare(model.get(0).collections, ["projects"])
        model.collection = "todos"
        compare(model.count, 1)
        compare(model.get(0).collections, ["todos"])
        model.collection = ""
        compare(model.count, 2)
    }

    function test_engineBindingAndDestruction() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        todos.insert({ title: "a" })
        const model = makeModel({})
        compare(model.count, 0)
        model.engine = engine
        compare(model.count, 1)
        model.engine = null
        compare(model.count, 0)
    }

    function test_transactionObject() {
        const engine = makeEngine()
        const todos = makeCollection(engine, "todos")
        const before = Date.now()
        const t = todos.insert({ title: "Milk", done: false })
        verify(t !== null)
        verify(t.id.length > 0)
        compare(t.state, Transaction.Pending)
        compare(t.stateName, "Pending")
        compare(t.strategy, Transaction.Ordered)
        compare(t.collections, ["todos"])
        compare(t.mutationCount, 1)
        compare(t.mutations.length, 1)
        const m = t.mutations[0]
        compare(m.collection, "todos")
        compare(m.type, "insert")
        compare(m.key, t.key)
        compare(m.modified.title, "Milk")
        verify(m.mutationId.length > 0)
        compare(t.attempts.length, 0)
        compare(t.currentAttempt, 0)
        compare(t.queuedBehind, "")
        compare(t.error.code, SyncError.None)
        verify(t.createdAt instanceof Date)
        verify(t.createdAt.getTime() >= before - 1000 && t.createdAt.getTime() <= Date.now() + 1000,
               "createdAt is now")
        compare(t.updatedAt.getTime(), t.createdAt.getTime())
        compare(engine.transaction(t.id).id, t.id)

        const u = todos.update(t.key, { title: "Oat milk" })
        compare(u.mutations[0].type, "update")
        compare(u.mutations[0].changes.title, "Oat milk")
        compare(u.key, t.key)
        const r = todos.remove(t.key)
        compare(r.mutations[0].type, "remove")
    }
}
