// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import QtTest
import Synq

TestCase {
    id: testCase
    name: "SyncCollection"
    when: windowShown
    width: 400
    height: 400

    // Each test opens its own database file in the run folder.
    property int serial: 0
    function makeEngine() {
        serial += 1
        const engine = createTemporaryObject(engineComponent, testCase,
                                             { databasePath: "collection-" + serial + "-" + Date.now() + ".sqlite" })
        verify(engine.open(), "the engine opens its database")
        return engine
    }
    function makeCollection(engine) {
        return createTemporaryObject(collectionComponent, testCase, { engine: engine })
    }

    Component {
        id: engineComponent
        SyncEngine { }
    }
    Component {
        id: collectionComponent
        SyncCollection {
            name: "todos"
            fields: ["title", "done"]
        }
    }
    Component {
        id: listComponent
        ListView {
            width: 200
            height: 400
            delegate: Item {
                id: row
                required property var model
                width: 200
                height: 20
                property string title: row.model.title
                property bool done: row.model.done === true
                property string key: row.model.key
                property int syncState: row.model.syncState
                property bool isOptimistic: row.model.isOptimistic
                property int pendingTransactions: row.model.pendingTransactions
                property var version: row.model.version
                property var lastError: row.model.lastError
                function rename(text) { row.model.title = text }
            }
        }
    }
    Component {
        id: badgeComponent
        SyncStateBadge { }
    }
    Component {
        id: spyComponent
        SignalSpy { }
    }

    function test_enums() {
        compare(SyncCollection.Synced, 0)
        compare(SyncCollection.Pending, 1)
        compare(SyncCollection.Conflict, 4)
        compare(SyncCollection.Ordered, 0)
        compare(SyncCollection.Parallel, 1)
        compare(SyncCollection.Manual, 5)
        compare(SyncCollection.OnlineOnly, 3)
        compare(SyncCollection.MergeArrays, 2)
        compare(Transaction.Queued, 0)
        compare(Transaction.PersistedAwaitingSync, 3)
        compare(Transaction.Failed, 5)
        compare(SyncEngine.Normal, 0)
        compare(SyncEngine.Full, 1)
        compare(SyncError.None, 0)
        compare(SyncError.Validation, 6)
        compare(SyncError.Cancelled, 12)
    }

    function test_insertReturnsTransactionAndShowsRow() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        const t = todos.insert({ title: "Milk", done: false })
        verify(t !== null)
        compare(t.state, Transaction.Pending)
        compare(t.stateName, "Pending")
        compare(t.mutationCount, 1)
        compare(t.mutations[0].type, "insert")
        compare(t.mutations[0].modified.title, "Milk")
        compare(todos.count, 1)
        compare(todos.pendingCount, 1)
        const row = todos.get(0)
        compare(row.title, "Milk")
        compare(row.key, t.key)
        compare(row.id, t.key)
        compare(row.syncState, SyncCollection.Pending)
        compare(row.isOptimistic, true)
        compare(engine.status.pendingCount, 1)
        compare(todos.getByKey(t.key).title, "Milk")
        compare(todos.indexOfKey(t.key), 0)
    }

    function test_listViewShowsRowsAndMetaRoles() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        const view = createTemporaryObject(listComponent, testCase, { model: todos })
        todos.insert({ title: "one" })
        const t = todos.insert({ title: "two", done: true })
        compare(view.count, 2)
        tryVerify(() => view.itemAtIndex(1) !== null)
        const item = view.itemAtIndex(1)
        compare(item.title, "two")
        compare(item.done, true)
        compare(item.key, t.key)
        compare(item.syncState, SyncCollection.Pending)
        compare(item.isOptimistic, true)
        compare(item.pendingTransactions, 1)
        compare(item.version, 0)
        compare(item.lastError.code, SyncError.None)
    }

    function test_delegateWritesRecordAnUpdate() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        const view = createTemporaryObject(listComponent, testCase, { model: todos })
        const t = todos.insert({ title: "old" })
        tryVerify(() => view.itemAtIndex(0) !== null)
        const item = view.itemAtIndex(0)
        item.rename("new")
        compare(todos.get(0).title, "new")
        compare(item.title, "new")
        compare(item.pendingTransactions, 2)
        compare(todos.pendingCount, 2)
        compare(engine.status.pendingCount, 2)
    }

    function test_syncStateBadge() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        todos.insert({ title: "a" })
        const row = todos.get(0)
        const badge = createTemporaryObject(badgeComponent, testCase,
                                            { syncState: row.syncState,
                                              pendingTransactions: row.pendingTransactions })
        compare(badge.text, "pending")
        verify(badge.shown)
        badge.pendingTransactions = 3
        compare(badge.text, "pending (3)")
        badge.syncState = SyncCollection.Synced
        compare(badge.text, "synced")
        verify(!badge.shown)
        badge.showSynced = true
        verify(badge.shown)
        badge.syncState = SyncCollection.Conflict
        compare(badge.text, "conflict")
    }

    function test_updateAndRemove() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        const a = todos.insert({ title: "a" })
        const b = todos.insert({ title: "b" })
        const u = todos.update(a.key, { done: true })
        verify(u !== null)
        compare(u.mutations[0].changes.done, true)
        compare(todos.get(0).done, true)
        const r = todos.remove(b.key)
        verify(r !== null)
        compare(r.mutations[0].type, "remove")
        compare(todos.count, 1)
        compare(todos.indexOfKey(b.key), -1)
    }

    function test_bulkCalls() {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        const t = todos.insertMany([{ id: "a", title: "A" }, { id: "b", title: "B" }, { id: "c", title: "C" }])
        verify(t !== null)
        compare(t.mutationCount, 3)
        compare(todos.count, 3)
        const u = todos.updateMany([{ key: "a", changes: { done: true } }, { key: "c", changes: { title: "CC" } }])
        verify(u !== null)
        compare(todos.get(0).done, true)
        compare(todos.get(2).title, "CC")
        const r = todos.removeMany(["a", "b"])
        verify(r !== null)
        compare(todos.count, 1)
        compare(todos.get(0).id, "c")
        compare(todos.pendingCount, 3)
    }

    function test_badInputReportsSyncError_data() {
        return [
            { tag: "a number instead of an object", call: (c) => c.insert(42) },
            { tag: "a string instead of an object", call: (c) => c.insert("text") },
            { tag: "a function inside the item", call: (c) => c.insert({ f: function() {} }) },
            { tag: "an unknown key for update", call: (c) => c.update("nope", { title: "x" }) },
            { tag: "an unknown key for remove", call: (c) => c.remove("nope") },
            { tag: "a bulk insert that is not a list", call: (c) => c.insertMany({ title: "x" }) },
            { tag: "a bulk remove with one unknown key", call: (c) => c.removeMany(["kept", "nope"]) },
        ]
    }

    function test_badInputReportsSyncError(data) {
        const engine = makeEngine()
        const todos = makeCollection(engine)
        todos.insert({ id: "kept", title: "kept" })
        const spy = createTemporaryObject(spyComponent, testCase, { target: todos, signalName: "errorOccurred" })
        const engineSpy = createTemporaryObject(spyComponent, testCase, { target: engine, signalName: "errorOccurred" })
        const result = data.call(todos)
        compare(result, null)
        compare(spy.count, 1)
        compare(engineSpy.count, 1)
        const error = spy.signalArguments[0][0]
        compare(error.code, SyncError.Validation)
        compare(error.codeName, "Validation")
        verify(error.message.length > 0)
        compare(engine.status.lastError.code, SyncError.Validation)
        compare(todos.count, 1)
        compare(todos.get(0).title, "kept")
        compare(todos.pendingCount, 1)
    }

    function test_twoCollectionsShareState() {
        const engine = makeEngine()
        const a = makeCollection(engine)
        const b = makeCollection(engine)
        const t = a.insert({ title: "shared" })
        compare(b.count, 1)
        compare(b.get(0).title, "shared")
        b.update(t.key, { title: "changed" })
        compare(a.get(0).title, "changed")
    }

    function test_restartShowsSameRows() {
        const path = "restart-" + Date.now() + ".sqlite"
        const first = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(first.open())
        const todos = makeCollection(first)
        const t = todos.insert({ title: "survives" })
        const key = t.key
        first.close()
        compare(todos.count, 0)
        const second = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(second.open())
        const again = makeCollection(second)
        compare(again.count, 1)
        compare(again.get(0).title, "survives")
        compare(again.get(0).syncState, SyncCollection.Pending)
        const restored = second.transaction(t.id)
        verify(restored !== null)
        compare(restored.state, Transaction.Pending)
        compare(restored.key, key)
    }

    // A reopened large collection shows its first page; a ListView scrolled to the end asks for
    // the rest (fetchMore), page by page, until every stored row is in the model.
    function test_listViewLoadsALargeCollectionAsItScrolls() {
        const path = "window-" + Date.now() + ".sqlite"
        const first = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(first.open())
        const items = []
        for (let i = 0; i < 1200; ++i)
            items.push({ id: "k" + String(i).padStart(4, "0"), title: "t" + i })
        verify(makeCollection(first).insertMany(items))
        first.close()

        const second = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(second.open())
        const todos = makeCollection(second)
        compare(todos.count, 500)
        const view = createTemporaryObject(listComponent, testCase, { model: todos })
        for (let step = 0; step < 20 && todos.count < 1200; ++step) {
            view.positionViewAtEnd()
            wait(20)
        }
        compare(todos.count, 1200)
        compare(todos.get(1199).title, "t1199")
        compare(todos.indexOfKey("k0700"), 700)
    }

    function test_fetchAllLoadsEveryRowAtOnce() {
        const path = "fetchall-" + Date.now() + ".sqlite"
        const first = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(first.open())
        const items = []
        for (let i = 0; i < 700; ++i)
            items.push({ title: "t" + i })
        verify(makeCollection(first).insertMany(items))
        first.close()
        const second = createTemporaryObject(engineComponent, testCase, { databasePath: path })
        verify(second.open())
        const todos = makeCollection(second)
        compare(todos.count, 500)
        todos.fetchAll()
        compare(todos.count, 700)
        compare(todos.get(699).title, "t699")
    }
}
