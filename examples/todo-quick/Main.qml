// SPDX-License-Identifier: BSD-3-Clause
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ApplicationWindow {
    id: window

    // Set by main.cpp as initial properties.
    required property url serverUrl
    required property string dataDir

    width: 900
    height: 560
    visible: true
    title: qsTr("Synq to-do: two replicas")

    RowLayout {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 12

        ReplicaPane {
            Layout.fillWidth: true
            Layout.fillHeight: true
            title: qsTr("Replica A")
            databasePath: window.dataDir + "/replica-a.sqlite"
            serverUrl: window.serverUrl
        }
        ReplicaPane {
            Layout.fillWidth: true
            Layout.fillHeight: true
            title: qsTr("Replica B")
            databasePath: window.dataDir + "/replica-b.sqlite"
            serverUrl: window.serverUrl
        }
    }
}
