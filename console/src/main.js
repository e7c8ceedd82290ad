import { createApp } from 'vue';
import 'vant/lib/index.css';
import Vant from 'vant';
import App from './App.vue';

createApp(App).use(Vant).mount('#app');
