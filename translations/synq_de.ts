<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>SyncStateBadge</name>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="33"/>
        <source>pending (%1)</source>
        <translation>ausstehend (%1)</translation>
    </message>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="34"/>
        <source>pending</source>
        <translation>ausstehend</translation>
    </message>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="36"/>
        <source>syncing</source>
        <translation>wird abgeglichen</translation>
    </message>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="38"/>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="40"/>
        <source>conflict</source>
        <translation>Konflikt</translation>
    </message>
    <message>
        <location filename="../qml/SyncStateBadge.qml" line="42"/>
        <source>synced</source>
        <translation>abgeglichen</translation>
    </message>
</context>
<context>
    <name>Synq::SyncCollection</name>
    <message>
        <location filename="../src/models/synccollection.cpp" line="157"/>
        <source>&quot;%1&quot; is not a valid collection name: use letters, digits and underscores, starting with a letter.</source>
        <translation>„%1“ ist kein gültiger Sammlungsname: Verwenden Sie Buchstaben, Ziffern und Unterstriche, beginnend mit einem Buchstaben.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="291"/>
        <source>&quot;%1&quot; is not a valid field name: use letters, digits and underscores, starting with a letter.</source>
        <translation>„%1“ ist kein gültiger Feldname: Verwenden Sie Buchstaben, Ziffern und Unterstriche, beginnend mit einem Buchstaben.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="295"/>
        <source>&quot;%1&quot; is the name of a meta role and cannot be a field.</source>
        <translation>„%1“ ist der Name einer Meta-Rolle und kann kein Feld sein.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="297"/>
        <source>The field &quot;%1&quot; is listed twice.</source>
        <translation>Das Feld „%1“ ist doppelt aufgeführt.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="321"/>
        <source>&quot;%1&quot; is not a valid key field name.</source>
        <translation>„%1“ ist kein gültiger Name für das Schlüsselfeld.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="501"/>
        <source>An item must be an object with fields; got %1.</source>
        <translation>Ein Eintrag muss ein Objekt mit Feldern sein; erhalten: %1.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="511"/>
        <source>The value of &quot;%1&quot; cannot be stored as JSON.</source>
        <translation>Der Wert von „%1“ kann nicht als JSON gespeichert werden.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="529"/>
        <source>A key must be a non-empty string or an integer.</source>
        <translation>Ein Schlüssel muss eine nicht leere Zeichenkette oder eine ganze Zahl sein.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="534"/>
        <source>A key may be at most 512 characters long.</source>
        <translation>Ein Schlüssel darf höchstens 512 Zeichen lang sein.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="570"/>
        <source>An update needs at least one field to change.</source>
        <translation>Eine Änderung braucht mindestens ein Feld.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="577"/>
        <source>The key field &quot;%1&quot; cannot be changed.</source>
        <translation>Das Schlüsselfeld „%1“ kann nicht geändert werden.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="592"/>
        <source>The collection has no engine.</source>
        <translation>Die Sammlung hat keine Engine.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="595"/>
        <source>The collection has no valid name.</source>
        <translation>Die Sammlung hat keinen gültigen Namen.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="598"/>
        <source>The collection &quot;%1&quot; is read-only.</source>
        <translation>Die Sammlung „%1“ ist schreibgeschützt.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="617"/>
        <source>Expected a list.</source>
        <translation>Eine Liste wurde erwartet.</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="626"/>
        <source>Entry %1: %2</source>
        <translation>Eintrag %1: %2</translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="693"/>
        <source>Each update must be an object {key, changes}.</source>
        <translation>Jede Änderung muss ein Objekt {key, changes} sein.</translation>
    </message>
</context>
<context>
    <name>Synq::SyncDatabase</name>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="179"/>
        <source>The local database could not be read or written.</source>
        <translation>Die lokale Datenbank konnte nicht gelesen oder geschrieben werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="318"/>
        <source>No database path is set.</source>
        <translation>Es ist kein Datenbankpfad gesetzt.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="323"/>
        <source>Cannot create the folder for the database at %1.</source>
        <translation>Der Ordner für die Datenbank unter %1 kann nicht angelegt werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="338"/>
        <source>Cannot open the database file %1.</source>
        <translation>Die Datenbankdatei %1 kann nicht geöffnet werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="349"/>
        <location filename="../src/storage/syncdatabase.cpp" line="358"/>
        <source>The file %1 is not a Synq database or is damaged.</source>
        <translation>Die Datei %1 ist keine Synq-Datenbank oder ist beschädigt.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="365"/>
        <source>The file %1 is not a Synq database.</source>
        <translation>Die Datei %1 ist keine Synq-Datenbank.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="373"/>
        <source>The database %1 was written by a newer version of Synq (schema %2; this version reads up to %3).</source>
        <translation>Die Datenbank %1 wurde von einer neueren Synq-Version geschrieben (Schema %2; diese Version liest bis Schema %3).</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="384"/>
        <source>The database %1 cannot use write-ahead logging.</source>
        <translation>Die Datenbank %1 kann kein Write-Ahead-Logging verwenden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="390"/>
        <source>Cannot configure the database %1.</source>
        <translation>Die Datenbank %1 kann nicht eingerichtet werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="396"/>
        <location filename="../src/storage/syncdatabase.cpp" line="420"/>
        <source>The database %1 cannot be written.</source>
        <translation>In die Datenbank %1 kann nicht geschrieben werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="403"/>
        <source>Cannot upgrade the database %1 to schema %2.</source>
        <translation>Die Datenbank %1 kann nicht auf Schema %2 aktualisiert werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="447"/>
        <source>Cannot change the durability level.</source>
        <translation>Die Dauerhaftigkeitsstufe kann nicht geändert werden.</translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="502"/>
        <location filename="../src/storage/syncdatabase.cpp" line="599"/>
        <source>The local database could not be written.</source>
        <translation>Die lokale Datenbank konnte nicht geschrieben werden.</translation>
    </message>
</context>
<context>
    <name>Synq::SyncEngine</name>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="144"/>
        <source>The scope value %1 cannot be stored as JSON.</source>
        <translation>Der Bereichswert %1 kann nicht als JSON gespeichert werden.</translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="224"/>
        <source>No database path is set and the system has no application data folder.</source>
        <translation>Es ist kein Datenbankpfad gesetzt, und das System hat keinen Ordner für Anwendungsdaten.</translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="311"/>
        <source>&quot;%1&quot; is not a valid collection name: use letters, digits and underscores, starting with a letter.</source>
        <translation>„%1“ ist kein gültiger Sammlungsname: Verwenden Sie Buchstaben, Ziffern und Unterstriche, beginnend mit einem Buchstaben.</translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="332"/>
        <source>There is nothing to change.</source>
        <translation>Es gibt nichts zu ändern.</translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="390"/>
        <source>An item with key &quot;%1&quot; already exists in &quot;%2&quot;.</source>
        <translation>In „%2“ gibt es bereits einen Eintrag mit dem Schlüssel „%1“.</translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="400"/>
        <source>There is no item with key &quot;%1&quot; in &quot;%2&quot;.</source>
        <translation>In „%2“ gibt es keinen Eintrag mit dem Schlüssel „%1“.</translation>
    </message>
</context>
</TS>
