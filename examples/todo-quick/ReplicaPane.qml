// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Synq

// One replica: its own database, an online/offline switch, and the list with each row's
// sync state.
Pane {
    id: pane

    required property string title
    required property string databasePath
    required property url serverUrl

    HttpTransport {
        id: http
        url: pane.serverUrl
    }

    SyncEngine {
        id: engine
        databasePath: pane.databasePath
        // Offline is simply no transport: edits keep landing in the outbox.
        transport: online.checked ? http : null
        syncInterval: 2000
        onErrorOccurred: (error) => status.text = error.message
    }

    SyncCollection {
        id: todos
        engine: engine
        name: "todos"
        fields: ["title", "done"]
    }

    ColumnLayout {
        anchors.fill: parent

        RowLayout {
            Label {
                text: pane.title
                font.bold: true
                Layout.fillWidth: true
            }
            Switch {
                id: online
                text: checked ? qsTr("online") : qsTr("offline")
                checked: true
            }
        }

        RowLayout {
            TextField {
                id: input
                placeholderText: qsTr("New to-do")
                Layout.fillWidth: true
                onAccepted: add.clicked()
            }
            Button {
                id: add
                text: qsTr("Add")
                enabled: input.text.length > 0
                onClicked: {
                    todos.insert({ title: input.text, done: false })
                    input.clear()
                }
            }
        }

        ListView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: todos
            delegate: RowLayout {
                id: row
                required property var model
                width: ListView.view.width

                function removeRow() { ListView.view.model.remove(row.model.key) }

                CheckBox {
                    checked: row.model.done === true
                    onToggled: row.model.done = checked
                }
                Label {
                    text: row.model.title
                    Layout.fillWidth: true
                    elide: Text.ElideRight
                }
                SyncStateBadge {
                    syncState: row.model.syncState
                    pendingTransactions: row.model.pendingTransactions
                }
                ToolButton {
                    text: "✕"
                    onClicked: row.removeRow()
                }
            }
        }

        Label {
            id: status
            text: qsTr("%1 rows, %2 changes waiting").arg(todos.count).arg(engine.status.pendingCount)
            Layout.fillWidth: true
            elide: Text.ElideRight
        }
    }
}
