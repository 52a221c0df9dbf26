<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>SyncCollection</name>
    <message>
        <location filename="../src/models/synccollection.cpp" line="157"/>
        <source>&quot;%1&quot; is not a valid collection name: use letters, digits and underscores, starting with a letter.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="291"/>
        <source>&quot;%1&quot; is not a valid field name: use letters, digits and underscores, starting with a letter.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="295"/>
        <source>&quot;%1&quot; is the name of a meta role and cannot be a field.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="297"/>
        <source>The field &quot;%1&quot; is listed twice.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="321"/>
        <source>&quot;%1&quot; is not a valid key field name.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="501"/>
        <source>An item must be an object with fields; got %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="511"/>
        <source>The value of &quot;%1&quot; cannot be stored as JSON.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="529"/>
        <source>A key must be a non-empty string or an integer.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="534"/>
        <source>A key may be at most 512 characters long.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="570"/>
        <source>An update needs at least one field to change.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="577"/>
        <source>The key field &quot;%1&quot; cannot be changed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="592"/>
        <source>The collection has no engine.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="595"/>
        <source>The collection has no valid name.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="598"/>
        <source>The collection &quot;%1&quot; is read-only.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="617"/>
        <source>Expected a list.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="626"/>
        <source>Entry %1: %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/models/synccollection.cpp" line="693"/>
        <source>Each update must be an object {key, changes}.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SyncDatabase</name>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="173"/>
        <source>The local database could not be read or written.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="312"/>
        <source>No database path is set.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="317"/>
        <source>Cannot create the folder for the database at %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="328"/>
        <source>Cannot open the database file %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="339"/>
        <location filename="../src/storage/syncdatabase.cpp" line="348"/>
        <source>The file %1 is not a Synq database or is damaged.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="355"/>
        <source>The file %1 is not a Synq database.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="363"/>
        <source>The database %1 was written by a newer version of Synq (schema %2; this version reads up to %3).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="374"/>
        <source>The database %1 cannot use write-ahead logging.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="380"/>
        <source>Cannot configure the database %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="386"/>
        <location filename="../src/storage/syncdatabase.cpp" line="407"/>
        <source>The database %1 cannot be written.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="393"/>
        <source>Cannot upgrade the database %1 to schema %2.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="434"/>
        <source>Cannot change the durability level.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/storage/syncdatabase.cpp" line="489"/>
        <location filename="../src/storage/syncdatabase.cpp" line="586"/>
        <source>The local database could not be written.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SyncEngine</name>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="144"/>
        <source>The scope value %1 cannot be stored as JSON.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="224"/>
        <source>No database path is set and the system has no application data folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="307"/>
        <source>&quot;%1&quot; is not a valid collection name: use letters, digits and underscores, starting with a letter.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="328"/>
        <source>There is nothing to change.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="381"/>
        <source>An item with key &quot;%1&quot; already exists in &quot;%2&quot;.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../src/engine/syncengine.cpp" line="391"/>
        <source>There is no item with key &quot;%1&quot; in &quot;%2&quot;.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
