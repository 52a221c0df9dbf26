// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import Synq

/*!
    \qmltype SyncStateBadge
    \inqmlmodule Synq
    \brief A small label for a row's sync state, for SyncCollection delegates.

    \qml
    delegate: Row {
        required property var model
        Text { text: model.title }
        SyncStateBadge {
            syncState: model.syncState
            pendingTransactions: model.pendingTransactions
        }
    }
    \endqml

    Synced rows show nothing unless showSynced is set.
*/
Rectangle {
    id: badge

    property int syncState: SyncCollection.Synced
    property int pendingTransactions: 0
    property bool showSynced: false

    readonly property string text: {
        switch (badge.syncState) {
        case SyncCollection.Pending:
            return badge.pendingTransactions > 1 ? qsTr("pending (%1)").arg(badge.pendingTransactions)
                                                 : qsTr("pending")
        case SyncCollection.Syncing:
            return qsTr("syncing")
        case SyncCollection.Failed:
            return qsTr("failed")
        case SyncCollection.Conflict:
            return qsTr("conflict")
        default:
            return qsTr("synced")
        }
    }

    // Whether the state is worth showing; the badge is visible when it is.
    readonly property bool shown: badge.showSynced || badge.syncState !== SyncCollection.Synced

    visible: badge.shown
    implicitWidth: label.implicitWidth + 10
    implicitHeight: label.implicitHeight + 4
    radius: height / 2
    color: {
        switch (badge.syncState) {
        case SyncCollection.Failed:
            return "#c62828"
        case SyncCollection.Conflict:
            return "#ef6c00"
        case SyncCollection.Synced:
            return "#2e7d32"
        default:
            return "#616161"
        }
    }

    Text {
        id: label
        anchors.centerIn: parent
        text: badge.text
        color: "white"
        font.pixelSize: 11
    }
}
