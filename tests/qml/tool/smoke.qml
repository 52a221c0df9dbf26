// SPDX-License-Identifier: BSD-3-Clause
// Loaded by Qt's `qml` tool in the test suite: the module loads, a collection takes edits,
// and a refused edit reports a SyncError.
import QtQuick
import Synq

Item {
    SyncEngine {
        id: engine
        databasePath: "smoke.sqlite"
    }
    SyncCollection {
        id: todos
        engine: engine
        name: "todos"
        fields: ["title"]
    }
    Component.onCompleted: {
        todos.insert({ title: "first" })
        todos.insert({ title: "second" })
        todos.insert(42) // refused
        const row = todos.get(1)
        console.log("smoke: rows=" + todos.count + " pending=" + todos.pendingCount
                    + " title=" + row.title
                    + " error=" + engine.status.lastError.codeName)
        Qt.callLater(Qt.quit)
    }
}
